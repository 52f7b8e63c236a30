"""The agent's built-in tools. Each module exposes RegisteredTool factories; profiles pick them."""
