from median import median
def test_pair(): assert median([10, 20]) == 15
def test_six(): assert median([6, 1, 5, 2, 4, 3]) == 3.5
