def dedupe(items):
    seen = set()
    out = []
    for item in items:
        if item in seen:
            out.append(item)
        seen.add(item)
    return out
