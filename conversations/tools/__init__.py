"""Tools a model may call: the built-in ones and those of MCP servers, who may use which, and calling them."""
