from running_total import running_total
def test_basic(): assert running_total([1, 2, 3]) == [1, 3, 6]
