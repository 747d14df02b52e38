#!/usr/bin/env python3
"""Reference values for the experiment statistics, from scipy (run once; never at test time).

    python3 test/unit/core/experiments/reference.py

prints the literals pasted into stats.test.ts (STATS_SCIPY) and report.test.ts (REPORT_SCIPY).
Made with scipy 1.17.1, numpy 2.4.6. scipy has no Holm correction and no mSPRT: those two are
written out here by their formulas (a second, independent implementation, not a library's).
"""
import json
import math

import numpy as np
from scipy import stats

CONF = 0.95
Z = stats.norm.ppf(1 - (1 - CONF) / 2)

# MIXING_SD in services/core/experiments/stats.ts
TAU = {'open': 0.02, 'clickThrough': 0.003, 'clickToOpen': 0.015, 'conversion': 0.002, 'revenuePerRecipient': 10}

FIELDS = ['sent', 'delivered', 'bounced', 'opened', 'clicked', 'unsubscribed', 'complained', 'converted',
          'conversions', 'revenue', 'revenueSq', 'clickConverted', 'clickConversions', 'clickRevenue']


def counters(*values):
    return dict(zip(FIELDS, values))


# The fixed data sets of report.test.ts (keep in step).
ABN = [  # name, holdout, expected share, counters
    ('A', False, 0.3, counters(1000, 990, 10, 250, 60, 3, 1, 30, 34, 150000, 1.2e9, 20, 22, 100000)),
    ('B', False, 0.3, counters(1020, 1012, 8, 290, 81, 2, 0, 45, 50, 240000, 2.1e9, 33, 36, 180000)),
    ('C', False, 0.3, counters(980, 975, 5, 240, 52, 5, 2, 28, 29, 120000, 0.9e9, 15, 15, 70000)),
    ('holdout', True, 0.1, counters(330, 0, 0, 0, 0, 0, 0, 8, 8, 30000, 1.5e8, 0, 0, 0)),
]
MVT = [  # name, variables, counters (shares 0.25 each, no holdout)
    ('question+popular', {'subject': 'question', 'recs': 'popular'}, counters(500, 498, 2, 140, 40, 1, 0, 20, 22, 90000, 6e8, 14, 15, 60000)),
    ('question+none', {'subject': 'question', 'recs': 'none'}, counters(510, 508, 2, 150, 30, 2, 1, 12, 12, 50000, 3e8, 8, 8, 30000)),
    ('plain+popular', {'subject': 'plain', 'recs': 'popular'}, counters(495, 493, 2, 110, 33, 0, 0, 16, 17, 70000, 4.5e8, 10, 10, 45000)),
    ('plain+none', {'subject': 'plain', 'recs': 'none'}, counters(505, 503, 2, 105, 22, 1, 0, 9, 9, 40000, 2.4e8, 5, 5, 20000)),
]

PROPORTIONS = {'open': ('opened', 'sent'), 'clickThrough': ('clicked', 'sent'), 'clickToOpen': ('clicked', 'opened'),
               'conversion': ('converted', 'sent'), 'clickConversion': ('clickConverted', 'sent')}
COMPARED = ['open', 'clickThrough', 'clickToOpen', 'conversion', 'revenuePerRecipient']


def f(x):
    return None if x is None else float(x)


def wilson(x, n):
    if n == 0:
        return [None, None, None]
    low, high = stats.binomtest(int(x), int(n)).proportion_ci(confidence_level=CONF, method='wilson')
    return [x / n, f(low), f(high)]


def t_interval(n, s, ss):
    mean = s / n
    sd = math.sqrt((ss - s * s / n) / (n - 1))
    low, high = stats.t.interval(CONF, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return [mean, f(low), f(high)]


def two_proportions(x1, n1, x2, n2):
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    half = Z * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    # chi2_contingency of the 2 x 2 table without correction: statistic = z², same p.
    chi2, p, _, _ = stats.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False)
    pooled = (x1 + x2) / (n1 + n2)
    z = d / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert abs(z * z - chi2) < 1e-9 * chi2
    return {'difference': d, 'low': d - half, 'high': d + half, 'statistic': z, 'df': None,
            'p': f(p), 'pNorm': f(2 * stats.norm.sf(abs(z)))}


def welch(n1, s1, ss1, n2, s2, ss2):
    m1, m2 = s1 / n1, s2 / n2
    v1 = (ss1 - s1 * s1 / n1) / (n1 - 1)
    v2 = (ss2 - s2 * s2 / n2) / (n2 - 1)
    r = stats.ttest_ind_from_stats(m1, math.sqrt(v1), n1, m2, math.sqrt(v2), n2, equal_var=False)
    a, b = v1 / n1, v2 / n2
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    half = stats.t.ppf(1 - (1 - CONF) / 2, df) * math.sqrt(a + b)
    d = m1 - m2
    return {'difference': d, 'low': d - half, 'high': d + half, 'statistic': f(r.statistic), 'df': df, 'p': f(r.pvalue)}


def msprt(estimate, variance, tau2):
    log_lambda = 0.5 * math.log(variance / (variance + tau2)) + tau2 * estimate ** 2 / (2 * variance * (variance + tau2))
    return math.exp(-max(0.0, log_lambda))


def msprt_proportions(x1, n1, x2, n2, tau):
    p1, p2 = x1 / n1, x2 / n2
    return msprt(p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2, tau * tau)


def msprt_means(n1, s1, ss1, n2, s2, ss2, tau):
    v1 = (ss1 - s1 * s1 / n1) / (n1 - 1)
    v2 = (ss2 - s2 * s2 / n2) / (n2 - 1)
    return msprt(s1 / n1 - s2 / n2, v1 / n1 + v2 / n2, tau * tau)


def holm(ps):
    order = sorted(range(len(ps)), key=lambda i: (ps[i], i))
    out, running = [None] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        out[i] = running
    return out


def compare(metric, a, b):
    if metric == 'revenuePerRecipient':
        t = welch(a['sent'], a['revenue'], a['revenueSq'], b['sent'], b['revenue'], b['revenueSq'])
        t['alwaysValidP'] = msprt_means(a['sent'], a['revenue'], a['revenueSq'], b['sent'], b['revenue'], b['revenueSq'], TAU[metric])
        return t
    num, den = PROPORTIONS[metric]
    t = two_proportions(a[num], a[den], b[num], b[den])
    t['alwaysValidP'] = msprt_proportions(a[num], a[den], b[num], b[den], TAU[metric])
    return t


def comparisons(groups, control):
    """groups: [(name, counters)]; each against the control, Holm per metric."""
    out = {}
    for metric in COMPARED:
        rows = [(name, compare(metric, c, control[1])) for name, c in groups]
        adjusted = holm([r['p'] for _, r in rows])
        always_valid_adjusted = holm([r['alwaysValidP'] for _, r in rows])
        for (name, r), adj, avadj in zip(rows, adjusted, always_valid_adjusted):
            r['adjustedP'] = adj
            r['alwaysValidAdjustedP'] = avadj
            out[f'{metric}:{name}'] = r
    return out


def add(a, b):
    return {k: a[k] + b[k] for k in FIELDS}


def rates(c):
    out = {m: wilson(c[num], c[den]) for m, (num, den) in PROPORTIONS.items()}
    out['revenuePerRecipient'] = t_interval(c['sent'], c['revenue'], c['revenueSq'])
    return out


def report_abn():
    arms = [(n, c) for n, h, _, c in ABN if not h]
    holdout = [c for _, h, _, c in ABN if h][0]
    homogeneity = {}
    for metric in ['open', 'clickThrough', 'clickToOpen', 'conversion']:
        num, den = PROPORTIONS[metric]
        chi2, p, dof, _ = stats.chi2_contingency([[c[num], c[den] - c[num]] for _, c in arms], correction=False)
        homogeneity[metric] = [f(chi2), int(dof), f(p)]
    srm = stats.chisquare([c['sent'] for *_, c in ABN], f_exp=[s * sum(c['sent'] for *_, c in ABN) for _, _, s, _ in ABN])
    treated = arms[0][1]
    for _, c in arms[1:]:
        treated = add(treated, c)
    lift = {}
    for metric in ['conversion', 'revenuePerRecipient']:
        r = compare(metric, treated, holdout)
        r['adjustedP'] = r['p']
        r['alwaysValidAdjustedP'] = r['alwaysValidP']
        lift[metric] = r
    return {
        'rates': {n: rates(c) for n, _, _, c in ABN},
        'comparisons': comparisons(arms[1:], arms[0]),
        'homogeneity': homogeneity,
        'srm': [f(srm.statistic), f(srm.pvalue)],
        'holdoutLift': lift,
    }


def report_mvt():
    effects = {}
    for variable in ['subject', 'recs']:
        levels = {}
        for _, v, c in MVT:
            levels[v[variable]] = add(levels[v[variable]], c) if v[variable] in levels else c
        names = list(levels)
        effects[variable] = {
            'rates': {level: rates(c) for level, c in levels.items()},
            'comparisons': comparisons([(n, levels[n]) for n in names[1:]], (names[0], levels[names[0]])),
        }
    control = MVT[0]
    return {
        'rates': {n: rates(c) for n, _, c in MVT},
        'comparisons': comparisons([(n, c) for n, _, c in MVT[1:]], (control[0], control[2])),
        'mainEffects': effects,
    }


def stats_cases():
    """Single calls of stats.ts, edge cases included."""
    return {
        'z975': f(Z),
        'wilson': {f'{x}/{n}': wilson(x, n) for x, n in [(0, 20), (20, 20), (1, 3), (250, 1000), (7, 10000)]},
        'wilson90': [f(v) for v in stats.binomtest(30, 200).proportion_ci(confidence_level=0.9, method='wilson')],
        'twoProportions': two_proportions(45, 1020, 30, 1000),
        'welch': welch(1020, 240000, 2.1e9, 1000, 150000, 1.2e9),
        'welchSmall': welch(5, 10, 30, 7, 21, 75),
        'meanInterval': t_interval(12, 30, 95),
        'chiSquared': [f(v) for v in stats.chi2_contingency([[20, 80], [35, 65], [28, 72]], correction=False)[:3]],
        'goodnessOfFit': [f(v) for v in stats.chisquare([5120, 4880], f_exp=[5000, 5000])],
        'goodnessOfFit3': [f(v) for v in stats.chisquare([2600, 2450, 4950], f_exp=[2500, 2500, 5000])],
        'holm': holm([0.01, 0.04, 0.03, 0.005, 0.5]),
        'msprtProportions': msprt_proportions(45, 1020, 30, 1000, 0.002),
        'msprtProportionsWide': msprt_proportions(300, 1000, 250, 1000, 0.02),
        'msprtMeans': msprt_means(1020, 240000, 2.1e9, 1000, 150000, 1.2e9, 10),
        'chi2Upper': f(stats.chi2.sf(7.3, 3)),
        'tTwoSided': f(2 * stats.t.sf(2.1, 37.3)),
        'tCritical': f(stats.t.ppf(0.975, 37.3)),
    }


if __name__ == '__main__':
    print('STATS_SCIPY =', json.dumps(stats_cases(), indent=2))
    print('REPORT_SCIPY =', json.dumps({'abn': report_abn(), 'mvt': report_mvt()}, indent=2))
