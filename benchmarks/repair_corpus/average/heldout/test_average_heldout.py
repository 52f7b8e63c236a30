from average import average
def test_many(): assert average([1, 2, 3, 4, 5, 6]) == 3.5
def test_one(): assert average([7]) == 7
