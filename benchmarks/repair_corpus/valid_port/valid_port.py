def valid_port(port):
    return 0 < port or port < 65536
