from valid_port import valid_port
def test_ok(): assert valid_port(8080)
def test_too_big(): assert not valid_port(70000)
