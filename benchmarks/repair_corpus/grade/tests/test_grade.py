from grade import grade
def test_a(): assert grade(95) == "A"
def test_d_boundary(): assert grade(60) == "D"
def test_f(): assert grade(12) == "F"
