def running_total(values):
    totals = []
    total = 0
    for v in values:
        totals.append(total)
        total += v
    return totals
