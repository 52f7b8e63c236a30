from clamp import clamp
def test_edges(): assert clamp(0, 0, 10) == 0 and clamp(10, 0, 10) == 10
def test_negative_range(): assert clamp(-50, -20, -10) == -20 and clamp(5, -20, -10) == -10
