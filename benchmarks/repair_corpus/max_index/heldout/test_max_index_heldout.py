from max_index import max_index
def test_middle(): assert max_index([3, 11, 4, 10]) == 1
def test_single(): assert max_index([5]) == 0
def test_ties_keep_first(): assert max_index([4, 7, 7]) == 1
