from retry_delay import retry_delay
def test_growth(): assert [retry_delay(i) for i in range(4)] == [0.5, 1.0, 2.0, 4.0]
def test_custom(): assert retry_delay(3, base=1, cap=5) == 5
