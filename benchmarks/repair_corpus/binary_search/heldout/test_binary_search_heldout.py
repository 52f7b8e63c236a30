from binary_search import binary_search
def test_ends():
    xs = list(range(0, 40, 2))
    assert all(binary_search(xs, x) == i for i, x in enumerate(xs))
def test_empty(): assert binary_search([], 1) == -1
