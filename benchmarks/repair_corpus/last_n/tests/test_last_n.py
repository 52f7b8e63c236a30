from last_n import last_n
def test_two(): assert last_n([1, 2, 3, 4], 2) == [3, 4]
