from valid_port import valid_port
def test_zero(): assert not valid_port(0)
def test_edges(): assert valid_port(1) and valid_port(65535) and not valid_port(-5)
