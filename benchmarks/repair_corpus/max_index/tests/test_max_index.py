from max_index import max_index
def test_last(): assert max_index([1, 2, 9]) == 2
def test_first(): assert max_index([9, 2, 1]) == 0
