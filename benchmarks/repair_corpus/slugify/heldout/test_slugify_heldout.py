from slugify import slugify
def test_spaces(): assert slugify("  Many   spaces here ") == "many-spaces-here"
def test_single(): assert slugify("One") == "one"
