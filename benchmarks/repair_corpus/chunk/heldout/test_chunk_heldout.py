from chunk import chunk
def test_ragged(): assert chunk([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
def test_big(): assert chunk([1, 2], 5) == [[1, 2]]
def test_empty(): assert chunk([], 3) == []
