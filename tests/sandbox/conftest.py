from tests.support.sandbox import home_secret, loopback_server, open_sandbox, outside_dir, workspace

__all__ = ["home_secret", "loopback_server", "open_sandbox", "outside_dir", "workspace"]
