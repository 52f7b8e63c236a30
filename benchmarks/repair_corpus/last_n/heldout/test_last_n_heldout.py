from last_n import last_n
def test_zero(): assert last_n([1, 2], 0) == []
def test_more_than_len(): assert last_n([1, 2], 5) == [1, 2]
def test_one(): assert last_n(list("abc"), 1) == ["c"]
