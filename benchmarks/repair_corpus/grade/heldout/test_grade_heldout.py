from grade import grade
def test_boundaries():
    assert [grade(s) for s in (90, 80, 70, 60, 59)] == ["A", "B", "C", "D", "F"]
