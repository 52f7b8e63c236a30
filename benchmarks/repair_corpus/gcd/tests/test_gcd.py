from gcd import gcd
def test_basic(): assert gcd(12, 18) == 6
