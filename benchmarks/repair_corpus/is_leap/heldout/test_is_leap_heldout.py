from is_leap import is_leap
def test_more(): assert is_leap(2000) and not is_leap(2100) and is_leap(1996) and not is_leap(2023)
