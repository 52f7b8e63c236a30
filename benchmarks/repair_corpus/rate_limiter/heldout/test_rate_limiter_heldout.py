from rate_limiter import RateLimiter
def test_zero():
    assert not RateLimiter(0).allow()
def test_five():
    r = RateLimiter(5)
    assert sum(r.allow() for _ in range(9)) == 5
