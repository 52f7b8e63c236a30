class RateLimiter:
    def __init__(self, limit):
        self.limit = limit
        self.used = 0

    def allow(self):
        if self.used > self.limit:
            return False
        self.used += 1
        return True
