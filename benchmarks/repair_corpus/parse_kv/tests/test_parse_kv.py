from parse_kv import parse_kv
def test_pairs(): assert parse_kv("a=1, b=2") == {"a": "1", "b": "2"}
