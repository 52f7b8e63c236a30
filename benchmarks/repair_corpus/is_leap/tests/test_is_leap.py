from is_leap import is_leap
def test_common(): assert not is_leap(2019)
def test_leap(): assert is_leap(2024)
def test_century(): assert not is_leap(1900)
