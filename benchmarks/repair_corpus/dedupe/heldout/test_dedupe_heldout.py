from dedupe import dedupe
def test_empty(): assert dedupe([]) == []
def test_strings(): assert dedupe(list("banana")) == ["b", "a", "n"]
