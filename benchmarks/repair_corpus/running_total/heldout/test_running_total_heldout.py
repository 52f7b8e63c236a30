from running_total import running_total
def test_empty(): assert running_total([]) == []
def test_negatives(): assert running_total([5, -2, -3, 10]) == [5, 3, 0, 10]
