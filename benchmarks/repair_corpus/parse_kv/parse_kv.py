def parse_kv(line):
    result = {}
    for pair in line.split(","):
        if "=" not in pair:
            continue
        key, value = pair.split("=", 1)
        result[value.strip()] = key.strip()
    return result
