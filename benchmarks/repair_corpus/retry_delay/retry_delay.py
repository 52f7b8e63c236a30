def retry_delay(attempt, base=0.5, cap=30.0):
    delay = base * 2 ** attempt
    return max(delay, cap)
