"""What the Lua scripts answer: named results, as name, value, … pairs."""


def pairs(reply: list) -> dict:
    """A script's reply of name, value, … pairs as a dict."""
    return dict(zip(reply[::2], reply[1::2], strict=True))
