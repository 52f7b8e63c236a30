from retry_delay import retry_delay
def test_first(): assert retry_delay(0) == 0.5
def test_capped(): assert retry_delay(10) == 30.0
