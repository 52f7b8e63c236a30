from rate_limiter import RateLimiter
def test_limit():
    r = RateLimiter(2)
    assert [r.allow() for _ in range(3)] == [True, True, False]
