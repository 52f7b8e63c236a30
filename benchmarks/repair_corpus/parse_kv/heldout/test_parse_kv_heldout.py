from parse_kv import parse_kv
def test_skips_junk(): assert parse_kv("x=1,junk,y = 2") == {"x": "1", "y": "2"}
def test_equals_in_value(): assert parse_kv("url=a=b") == {"url": "a=b"}
