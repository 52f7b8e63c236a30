from tests.support.llm_server import llm_env, llm_server

__all__ = ["llm_env", "llm_server"]
