/**
 * experimentReport() on fixed counters built here: every figure, interval and p-value against
 * (1) the textbook formulas of stats.textbook.ts (no module code, no jstat), to 1e-9 relative
 * (Student t figures to 1e-6: jstat's t is good to ~1e-7, see stats.test.ts), and (2) scipy
 * 1.17.1, once: SCIPY below is the REPORT_SCIPY output of
 *   python3 test/unit/core/experiments/reference.py
 * which builds the same two data sets (keep them in step), to 1e-6 relative.
 */
import { experimentReport, type ArmCounters, type ArmInput, type ArmRates, type Comparison, type Estimate, type ExperimentReport } from '../../../../services/core/experiments';
import * as textbook from './stats.textbook';
import { expectClose, expectFiniteOrNull } from './stats.textbook';

const REL = 1e-9;
const T_REL = 1e-6;
const SCIPY_REL = 1e-6;
/** The documented default mSPRT mixing standard deviations (docs/experiments.md, "Statistics"). */
const TAU = { open: 0.02, clickThrough: 0.003, clickToOpen: 0.015, conversion: 0.002, revenuePerRecipient: 10 };

const FIELDS = ['sent', 'delivered', 'bounced', 'opened', 'clicked', 'unsubscribed', 'complained', 'converted',
  'conversions', 'revenue', 'revenueSq', 'clickConverted', 'clickConversions', 'clickRevenue'] as const;

function counters(...values: number[]): ArmCounters {
  return Object.fromEntries(FIELDS.map((field, i) => [field, values[i]])) as unknown as ArmCounters;
}

/** Field by field, written out here rather than with addCounters(). */
function sum(list: ArmCounters[]): ArmCounters {
  return Object.fromEntries(FIELDS.map((field) => [field, list.reduce((s, c) => s + c[field], 0)])) as unknown as ArmCounters;
}

// A/B/n with a holdout: shares 0.3 / 0.3 / 0.3 / 0.1.
const ABN: ArmInput[] = [
  { name: 'A', holdout: false, expectedShare: 0.3, counters: counters(1000, 990, 10, 250, 60, 3, 1, 30, 34, 150000, 1.2e9, 20, 22, 100000) },
  { name: 'B', holdout: false, expectedShare: 0.3, counters: counters(1020, 1012, 8, 290, 81, 2, 0, 45, 50, 240000, 2.1e9, 33, 36, 180000) },
  { name: 'C', holdout: false, expectedShare: 0.3, counters: counters(980, 975, 5, 240, 52, 5, 2, 28, 29, 120000, 0.9e9, 15, 15, 70000) },
  { name: 'holdout', holdout: true, expectedShare: 0.1, counters: counters(330, 0, 0, 0, 0, 0, 0, 8, 8, 30000, 1.5e8, 0, 0, 0) },
];

// 2 x 2 multivariate: subject (question, plain) x recs (popular, none), 0.25 each, no holdout.
const MVT: ArmInput[] = [
  { name: 'question+popular', holdout: false, expectedShare: 0.25, variables: { subject: 'question', recs: 'popular' }, counters: counters(500, 498, 2, 140, 40, 1, 0, 20, 22, 90000, 6e8, 14, 15, 60000) },
  { name: 'question+none', holdout: false, expectedShare: 0.25, variables: { subject: 'question', recs: 'none' }, counters: counters(510, 508, 2, 150, 30, 2, 1, 12, 12, 50000, 3e8, 8, 8, 30000) },
  { name: 'plain+popular', holdout: false, expectedShare: 0.25, variables: { subject: 'plain', recs: 'popular' }, counters: counters(495, 493, 2, 110, 33, 0, 0, 16, 17, 70000, 4.5e8, 10, 10, 45000) },
  { name: 'plain+none', holdout: false, expectedShare: 0.25, variables: { subject: 'plain', recs: 'none' }, counters: counters(505, 503, 2, 105, 22, 1, 0, 9, 9, 40000, 2.4e8, 5, 5, 20000) },
];

type Triple = Array<number | null>;
/** p: chi2_contingency (proportions) or ttest_ind_from_stats (revenue); pNorm: 2 norm.sf(|z|). */
interface ScipyTest { difference: number; low: number; high: number; statistic: number; df: number | null; p: number; pNorm?: number; alwaysValidP: number; adjustedP: number; alwaysValidAdjustedP: number }
interface ScipyReport { rates: Record<string, Record<string, Triple>>; comparisons: Record<string, ScipyTest> }

// python3 test/unit/core/experiments/reference.py (REPORT_SCIPY), scipy 1.17.1.
const SCIPY: { abn: ScipyReport & { homogeneity: Record<string, number[]>; srm: number[]; holdoutLift: Record<string, ScipyTest> }; mvt: ScipyReport & { mainEffects: Record<string, ScipyReport> } } = {
  abn: {
    rates: {
      "A": {"open": [0.25, 0.2241530989836914, 0.27776028025908617], "clickThrough": [0.06, 0.04689647267593196, 0.07647107479135655], "clickToOpen": [0.24, 0.19124884041749649, 0.29662047532013475], "conversion": [0.03, 0.021093738828834696, 0.042503414147587126], "clickConversion": [0.02, 0.012983682916415135, 0.030690005229717786], "revenuePerRecipient": [150.0, 82.62910859368091, 217.3708914063191]},
      "B": {"open": [0.28431372549019607, 0.2574804265883177, 0.31276553658374273], "clickThrough": [0.07941176470588235, 0.0643530290415002, 0.09762659914401756], "clickToOpen": [0.2793103448275862, 0.23081536842485242, 0.33357557724456977], "conversion": [0.04411764705882353, 0.033133530957266163, 0.058522709383679664], "clickConversion": [0.03235294117647059, 0.023128493016275127, 0.045086618043146724], "revenuePerRecipient": [235.2941176470588, 148.2844501533619, 322.30378514075574]},
      "C": {"open": [0.24489795918367346, 0.21900474218047816, 0.2727832938722642], "clickThrough": [0.053061224489795916, 0.04069135025965978, 0.06892128890474478], "clickToOpen": [0.21666666666666667, 0.16922927423178538, 0.27303128040176466], "conversion": [0.02857142857142857, 0.019840511559749904, 0.040983779065717915], "clickConversion": [0.015306122448979591, 0.009297344256534659, 0.025099924243675756], "revenuePerRecipient": [122.44897959183673, 62.83780325794348, 182.06015592573]},
      "holdout": {"open": [0.0, 0.0, 0.011506835712569087], "clickThrough": [0.0, 0.0, 0.011506835712569087], "clickToOpen": [null, null, null], "conversion": [0.024242424242424242, 0.012334114254845107, 0.04709966275650851], "clickConversion": [0.0, 0.0, 0.011506835712569087], "revenuePerRecipient": [90.9090909090909, 18.45633452454095, 163.36184729364086]},
    },
    comparisons: {
      "open:B": {"difference": 0.03431372549019607, "low": -0.004242788346914682, "high": 0.07287023932730682, "statistic": 1.7422717931474623, "df": null, "p": 0.08146089666645968, "pNorm": 0.08146089666645913, "alwaysValidP": 0.658163901028342, "adjustedP": 0.16292179333291937, "alwaysValidAdjustedP": 1.0},
      "open:C": {"difference": -0.005102040816326536, "low": -0.04311710162080724, "high": 0.032913019988154164, "statistic": -0.2630258225338154, "df": null, "p": 0.7925306761588726, "pNorm": 0.7925306761588718, "alwaysValidP": 1.0, "adjustedP": 0.7925306761588726, "alwaysValidAdjustedP": 1.0},
      "clickThrough:B": {"difference": 0.01941176470588235, "low": -0.0027689403524343986, "high": 0.0415924697641991, "statistic": 1.7118584176932812, "df": null, "p": 0.08692276333884433, "pNorm": 0.08692276333884462, "alwaysValidP": 0.9392865538003625, "adjustedP": 0.17384552667768866, "alwaysValidAdjustedP": 1.0},
      "clickThrough:C": {"difference": -0.0069387755102040816, "low": -0.02727628529796655, "high": 0.013398734277558388, "statistic": -0.6682377755514594, "df": null, "p": 0.5039818258036204, "pNorm": 0.50398182580362, "alwaysValidP": 1.0, "adjustedP": 0.5039818258036204, "alwaysValidAdjustedP": 1.0},
      "clickToOpen:B": {"difference": 0.03931034482758622, "low": -0.03464355064750364, "high": 0.11326424030267608, "statistic": 1.0369951673206734, "df": null, "p": 0.2997381094032958, "pNorm": 0.29973810940329815, "alwaysValidP": 0.9993016112118032, "adjustedP": 0.5994762188065916, "alwaysValidAdjustedP": 1.0},
      "clickToOpen:C": {"difference": -0.023333333333333317, "low": -0.09762542950788689, "high": 0.05095876284122025, "statistic": -0.6148873228105178, "df": null, "p": 0.538629135445017, "pNorm": 0.5386291354450171, "alwaysValidP": 1.0, "adjustedP": 0.5994762188065916, "alwaysValidAdjustedP": 1.0},
      "conversion:B": {"difference": 0.014117647058823533, "low": -0.0023325575800843233, "high": 0.03056785169773139, "statistic": 1.6778288448295207, "df": null, "p": 0.09338051655126794, "pNorm": 0.09338051655126825, "alwaysValidP": 0.9527558859518314, "adjustedP": 0.1867610331025359, "alwaysValidAdjustedP": 1.0},
      "conversion:C": {"difference": -0.0014285714285714284, "low": -0.016280589919937236, "high": 0.013423447062794379, "statistic": -0.18847636813939403, "df": null, "p": 0.8505032390230955, "pNorm": 0.8505032390230951, "alwaysValidP": 1.0, "adjustedP": 0.8505032390230955, "alwaysValidAdjustedP": 1.0},
      "revenuePerRecipient:B": {"difference": 85.29411764705881, "low": -24.687235568316495, "high": 195.27547086243413, "statistic": 1.520980848995207, "df": 1907.6673163714777, "p": 0.1284303673036628, "alwaysValidP": 0.9802026588862237, "adjustedP": 0.2568607346073256, "alwaysValidAdjustedP": 1.0},
      "revenuePerRecipient:C": {"difference": -27.551020408163268, "low": -117.45412848116342, "high": 62.35208766483689, "statistic": -0.601007953240026, "df": 1953.6327269614126, "p": 0.5479044109026662, "alwaysValidP": 1.0, "adjustedP": 0.5479044109026662, "alwaysValidAdjustedP": 1.0},
    },
    homogeneity: {
      "open": [4.815439689389268, 2, 0.09002032104994545],
      "clickThrough": [6.233176370348598, 2, 0.04430808179942935],
      "clickToOpen": [2.87671145317262, 2, 0.2373176531554019],
      "conversion": [4.492920560015312, 2, 0.10577296939000372],
    },
    srm: [0.8308308308308308, 0.8420793745834667],
    holdoutLift: {
      "conversion": {"difference": 0.010090909090909091, "low": -0.007736416918688094, "high": 0.027918235100506276, "statistic": 0.9692772733340449, "df": null, "p": 0.3324068653405116, "pNorm": 0.33240686534051445, "alwaysValidP": 0.9952381402128903, "adjustedP": 0.3324068653405116, "alwaysValidAdjustedP": 0.9952381402128903},
      "revenuePerRecipient": {"difference": 79.0909090909091, "low": -4.55258683887736, "high": 162.73440502069553, "statistic": 1.8571555563103541, "df": 580.9054120587839, "p": 0.06379494031230386, "alwaysValidP": 0.9386801249841751, "adjustedP": 0.06379494031230386, "alwaysValidAdjustedP": 0.9386801249841751},
    },
  },
  mvt: {
    rates: {
      "question+popular": {"open": [0.28, 0.24243604304127545, 0.3209186667618075], "clickThrough": [0.08, 0.05929812940985259, 0.10710631657785129], "clickToOpen": [0.2857142857142857, 0.21738979502274602, 0.36548429084985956], "conversion": [0.04, 0.02604079738977726, 0.060973595834850805], "clickConversion": [0.028, 0.016750974720756442, 0.04644640267494887], "revenuePerRecipient": [180.0, 84.96151332711338, 275.0384866728866]},
      "question+none": {"open": [0.29411764705882354, 0.25623002623198055, 0.33508360485966737], "clickThrough": [0.058823529411764705, 0.04151174298563333, 0.08273175221075509], "clickToOpen": [0.2, 0.14384081582284963, 0.27114133079799635], "conversion": [0.023529411764705882, 0.01351008790716462, 0.04067288690493487], "clickConversion": [0.01568627450980392, 0.007969437066686715, 0.030644533215570785], "revenuePerRecipient": [98.03921568627452, 31.799084971391736, 164.27934640115728]},
      "plain+popular": {"open": [0.2222222222222222, 0.1878158512488145, 0.26090679371713393], "clickThrough": [0.06666666666666667, 0.04786107958760269, 0.09214624655927689], "clickToOpen": [0.3, 0.22229896444649322, 0.3911986096727724], "conversion": [0.03232323232323232, 0.019992393732945566, 0.05185700488245129], "clickConversion": [0.020202020202020204, 0.011009638483399186, 0.036784021003239055], "revenuePerRecipient": [141.41414141414143, 58.06069948930336, 224.76758333897948]},
      "plain+none": {"open": [0.2079207920792079, 0.17479630884858008, 0.2454553336105453], "clickThrough": [0.04356435643564356, 0.028942760108570328, 0.06507760319196122], "clickToOpen": [0.20952380952380953, 0.14263552777934818, 0.29691626929375375], "conversion": [0.01782178217821782, 0.009403874924926395, 0.03352002296522298], "clickConversion": [0.009900990099009901, 0.004236317655323573, 0.02296559087778514], "revenuePerRecipient": [79.20792079207921, 19.276964101505712, 139.1388774826527]},
    },
    comparisons: {
      "open:question+none": {"difference": 0.014117647058823513, "low": -0.04167365810877811, "high": 0.06990895222642513, "statistic": 0.4958243489279822, "df": null, "p": 0.620018344266182, "pNorm": 0.6200183442661821, "alwaysValidP": 1.0, "adjustedP": 0.620018344266182, "alwaysValidAdjustedP": 1.0},
      "open:plain+popular": {"difference": -0.05777777777777782, "low": -0.1115383687065716, "high": -0.004017186848984021, "statistic": -2.1009312235210613, "df": null, "p": 0.03564700406433796, "pNorm": 0.03564700406433774, "alwaysValidP": 0.5729873666933304, "adjustedP": 0.07129400812867592, "alwaysValidAdjustedP": 1.0},
      "open:plain+none": {"difference": -0.07207920792079212, "low": -0.12500978676776664, "high": -0.019148629073817584, "statistic": -2.6609326923320373, "df": null, "p": 0.007792453258919671, "pNorm": 0.0077924532589196335, "alwaysValidP": 0.35241159973714387, "adjustedP": 0.02337735977675901, "alwaysValidAdjustedP": 1.0},
      "clickThrough:question+none": {"difference": -0.021176470588235297, "low": -0.05252091743218194, "high": 0.01016797625571135, "statistic": -1.3248643366245103, "df": null, "p": 0.18521615132123778, "pNorm": 0.1852161513212417, "alwaysValidP": 0.9875680583973878, "adjustedP": 0.37043230264247556, "alwaysValidAdjustedP": 1.0},
      "clickThrough:plain+popular": {"difference": -0.013333333333333336, "low": -0.04571140796709591, "high": 0.01904474130042924, "statistic": -0.8065122868007569, "df": null, "p": 0.41994752636223587, "pNorm": 0.4199475263622352, "alwaysValidP": 1.0, "adjustedP": 0.41994752636223587, "alwaysValidAdjustedP": 1.0},
      "clickThrough:plain+none": {"difference": -0.03643564356435644, "low": -0.0661410899250976, "high": -0.006730197203615285, "statistic": -2.400426849734225, "df": null, "p": 0.016375963440537915, "pNorm": 0.01637596344053789, "alwaysValidP": 0.9141754470462875, "adjustedP": 0.04912789032161374, "alwaysValidAdjustedP": 1.0},
      "clickToOpen:question+none": {"difference": -0.08571428571428569, "low": -0.1841894108711985, "high": 0.012760839442627125, "statistic": -1.7045176250047287, "df": null, "p": 0.08828442617697552, "pNorm": 0.08828442617697553, "alwaysValidP": 0.9264478828367471, "adjustedP": 0.26485327853092655, "alwaysValidAdjustedP": 1.0},
      "clickToOpen:plain+popular": {"difference": 0.01428571428571429, "low": -0.0994397811473539, "high": 0.1280112097187825, "statistic": 0.2465949971466903, "df": null, "p": 0.8052216767045595, "pNorm": 0.8052216767045597, "alwaysValidP": 1.0, "adjustedP": 0.8052216767045595, "alwaysValidAdjustedP": 1.0},
      "clickToOpen:plain+none": {"difference": -0.07619047619047617, "low": -0.1841681883464345, "high": 0.03178723596548216, "statistic": -1.357441141988564, "df": null, "p": 0.1746410831721384, "pNorm": 0.17464108317214244, "alwaysValidP": 0.9702084138373367, "adjustedP": 0.3492821663442768, "alwaysValidAdjustedP": 1.0},
      "conversion:question+none": {"difference": -0.01647058823529412, "low": -0.03810583390968478, "high": 0.00516465743909654, "statistic": -1.4941543740175867, "df": null, "p": 0.1351352748333676, "pNorm": 0.1351352748333673, "alwaysValidP": 0.9809529948666286, "adjustedP": 0.2702705496667352, "alwaysValidAdjustedP": 1.0},
      "conversion:plain+popular": {"difference": -0.007676767676767678, "low": -0.030866444129010746, "high": 0.015512908775475391, "statistic": -0.6483611527246617, "df": null, "p": 0.5167513899207838, "pNorm": 0.5167513899207841, "alwaysValidP": 1.0, "adjustedP": 0.5167513899207838, "alwaysValidAdjustedP": 1.0},
      "conversion:plain+none": {"difference": -0.02217821782178218, "low": -0.04287062197524137, "high": -0.0014858136683229863, "statistic": -2.099986287447744, "df": null, "p": 0.035730047397717686, "pNorm": 0.035730047397717665, "alwaysValidP": 0.9428850655711175, "adjustedP": 0.10719014219315307, "alwaysValidAdjustedP": 1.0},
      "revenuePerRecipient:question+none": {"difference": -81.96078431372548, "low": -197.68319081295772, "high": 33.761622185506766, "statistic": -1.390031662609241, "df": 894.6270437226335, "p": 0.16486501657100353, "alwaysValidP": 0.9872496051167501, "adjustedP": 0.32973003314200705, "alwaysValidAdjustedP": 1.0},
      "revenuePerRecipient:plain+popular": {"difference": -38.585858585858574, "low": -164.84667660210297, "high": 87.67495943038583, "statistic": -0.5997160493485847, "df": 977.6182037822109, "p": 0.5488344573207687, "alwaysValidP": 1.0, "adjustedP": 0.5488344573207687, "alwaysValidAdjustedP": 1.0},
      "revenuePerRecipient:plain+none": {"difference": -100.79207920792079, "low": -213.03824464976157, "high": 11.45408623391998, "statistic": -1.7624917644065483, "df": 842.824979384799, "p": 0.07834866235841444, "alwaysValidP": 0.969452496631478, "adjustedP": 0.23504598707524332, "alwaysValidAdjustedP": 1.0},
    },
    mainEffects: {
      "subject": {
        rates: {
          "question": {"open": [0.2871287128712871, 0.26007477812651775, 0.3157957919129258], "clickThrough": [0.06930693069306931, 0.05522044673820638, 0.08665721822531887], "clickToOpen": [0.2413793103448276, 0.19571604058606923, 0.29380459887028487], "conversion": [0.031683168316831684, 0.02253090969031254, 0.04438434439646319], "clickConversion": [0.02178217821782178, 0.01442799324398161, 0.032760310612070576], "revenuePerRecipient": [138.6138613861386, 80.9304462762649, 196.29727649601233]},
          "plain": {"open": [0.215, 0.19065343629137974, 0.24152781604538667], "clickThrough": [0.055, 0.04249742737476844, 0.07090838767737562], "clickToOpen": [0.2558139534883721, 0.20213384316870647, 0.31806675974341886], "conversion": [0.025, 0.016990131293434067, 0.0366452892678433], "clickConversion": [0.015, 0.009110978804081673, 0.024600976926906798], "revenuePerRecipient": [110.0, 58.881905943438326, 161.1180940565617]},
        },
        comparisons: {
          "open:plain": {"difference": -0.07212871287128711, "low": -0.10990237130964936, "high": -0.03435505443292486, "statistic": -3.7278030463461937, "df": null, "p": 0.00019315623138842225, "pNorm": 0.00019315623138842144, "alwaysValidP": 0.03816300337351828, "adjustedP": 0.00019315623138842225, "alwaysValidAdjustedP": 0.03816300337351828},
          "clickThrough:plain": {"difference": -0.014306930693069313, "low": -0.035401810247143825, "high": 0.006787948861005196, "statistic": -1.3279890839007613, "df": null, "p": 0.18418171314361959, "pNorm": 0.1841817131436232, "alwaysValidP": 0.9740605180297494, "adjustedP": 0.18418171314361959, "alwaysValidAdjustedP": 0.9740605180297494},
          "clickToOpen:plain": {"difference": 0.014434643143544507, "low": -0.06190057791532433, "high": 0.09076986420241334, "statistic": 0.37164061045843105, "df": null, "p": 0.7101604485522445, "pNorm": 0.7101604485522441, "alwaysValidP": 1.0, "adjustedP": 0.7101604485522445, "alwaysValidAdjustedP": 1.0},
          "conversion:plain": {"difference": -0.006683168316831682, "low": -0.02118565548585511, "high": 0.007819318852191748, "statistic": -0.9025111273556178, "df": null, "p": 0.36678541314162827, "pNorm": 0.36678541314162816, "alwaysValidP": 1.0, "adjustedP": 0.36678541314162827, "alwaysValidAdjustedP": 1.0},
          "revenuePerRecipient:plain": {"difference": -28.61386138613861, "low": -105.64227089752657, "high": 48.414548125249354, "statistic": -0.7285157859659062, "df": 1981.6648299291876, "p": 0.466383988145752, "alwaysValidP": 1.0, "adjustedP": 0.466383988145752, "alwaysValidAdjustedP": 1.0},
        },
      },
      "recs": {
        rates: {
          "popular": {"open": [0.25125628140703515, 0.22529761977138857, 0.2791282371764862], "clickThrough": [0.07336683417085427, 0.05875483209505367, 0.09126042557918024], "clickToOpen": [0.292, 0.23912535589430278, 0.3511700966958022], "conversion": [0.036180904522613064, 0.026247370700656525, 0.04968205548699707], "clickConversion": [0.024120603015075376, 0.016261738250917243, 0.035639850697845435], "revenuePerRecipient": [160.80402010050253, 97.65305220369146, 223.9549879973136]},
          "none": {"open": [0.2512315270935961, 0.22552086302959706, 0.27881811372883214], "clickThrough": [0.05123152709359606, 0.03928058055724084, 0.06656656365449971], "clickToOpen": [0.20392156862745098, 0.15903528645864387, 0.2575960341653006], "conversion": [0.020689655172413793, 0.01357157357543349, 0.03142213807991619], "clickConversion": [0.012807881773399015, 0.007500092999630597, 0.021789507028263363], "revenuePerRecipient": [88.66995073891626, 44.055181885499785, 133.28471959233272]},
        },
        comparisons: {
          "open:none": {"difference": -2.47543134390682e-05, "low": -0.0379492296348718, "high": 0.037899721007993666, "statistic": -0.0012793210235335284, "df": null, "p": 0.998979249785448, "pNorm": 0.9989792497854493, "alwaysValidP": 1.0, "adjustedP": 0.998979249785448, "alwaysValidAdjustedP": 1.0},
          "clickThrough:none": {"difference": -0.022135307077258207, "low": -0.043264255218163516, "high": -0.0010063589363529003, "statistic": -2.054553514143113, "df": null, "p": 0.039922149543971254, "pNorm": 0.0399221495439713, "alwaysValidP": 0.8920575163347545, "adjustedP": 0.039922149543971254, "alwaysValidAdjustedP": 0.8920575163347545},
          "clickToOpen:none": {"difference": -0.088078431372549, "low": -0.1630598473360781, "high": -0.013097015409019919, "statistic": -2.293023735912293, "df": null, "p": 0.021846638461886964, "pNorm": 0.021846638461886957, "alwaysValidP": 0.7545365864889593, "adjustedP": 0.021846638461886964, "alwaysValidAdjustedP": 0.7545365864889593},
          "conversion:none": {"difference": -0.015491249350199271, "low": -0.030027952613797787, "high": -0.0009545460866007566, "statistic": -2.09189790610067, "df": null, "p": 0.036447649448850705, "pNorm": 0.036447649448850865, "alwaysValidP": 0.8933629292292082, "adjustedP": 0.036447649448850705, "alwaysValidAdjustedP": 0.8933629292292082},
          "revenuePerRecipient:none": {"difference": -72.13406936158627, "low": -149.4135392768421, "high": 5.14540055366956, "statistic": -1.830700320821112, "df": 1795.4366741039944, "p": 0.06731095182977563, "alwaysValidP": 0.9322145620604854, "adjustedP": 0.06731095182977563, "alwaysValidAdjustedP": 0.9322145620604854},
        },
      },
    },
  },
};

// ---------------------------------------------------------------------------------------------
// The expectations, from the textbook

const PROPORTIONS = {
  open: ['opened', 'sent'],
  clickThrough: ['clicked', 'sent'],
  clickToOpen: ['clicked', 'opened'],
  conversion: ['converted', 'sent'],
  clickConversion: ['clickConverted', 'sent'],
} as const;
type Proportion = keyof typeof PROPORTIONS;
const COMPARED = ['open', 'clickThrough', 'clickToOpen', 'conversion', 'revenuePerRecipient'] as const;
type Metric = (typeof COMPARED)[number];

function expectEstimate(got: Estimate, want: Triple, rel: number, scipy: Triple, what: string): void {
  if (want[0] === null) {
    expect(got).toEqual({ value: null, low: null, high: null });
    expect(scipy).toEqual([null, null, null]);
    return;
  }
  ['value', 'low', 'high'].forEach((key, i) => {
    expectClose(got[key as keyof Estimate], want[i] as number, i === 0 ? REL : rel, `${what} ${key}`);
    expectClose(got[key as keyof Estimate], scipy[i] as number, SCIPY_REL, `${what} ${key} scipy`);
  });
}

function expectRates(rates: ArmRates, c: ArmCounters, scipy: Record<string, Triple>, what: string): void {
  for (const metric of Object.keys(PROPORTIONS) as Proportion[]) {
    const [num, den] = PROPORTIONS[metric];
    expectEstimate(rates[metric], c[den] === 0 ? [null, null, null] : textbook.wilson(c[num], c[den]), REL, scipy[metric], `${what} ${metric}`);
  }
  expectEstimate(rates.revenuePerRecipient, textbook.meanInterval(c.sent, c.revenue, c.revenueSq), T_REL, scipy.revenuePerRecipient, `${what} revenuePerRecipient`);
}

/** The unadjusted test of one metric, from the textbook. */
function textbookTest(metric: Metric, a: ArmCounters, b: ArmCounters) {
  if (metric === 'revenuePerRecipient') {
    return {
      ...textbook.welch(a.sent, a.revenue, a.revenueSq, b.sent, b.revenue, b.revenueSq),
      armValue: a.revenue / a.sent,
      controlValue: b.revenue / b.sent,
      alwaysValidP: textbook.msprtMeans(a.sent, a.revenue, a.revenueSq, b.sent, b.revenue, b.revenueSq, TAU[metric]),
    };
  }
  const [num, den] = PROPORTIONS[metric];
  return {
    ...textbook.twoProportions(a[num], a[den], b[num], b[den]),
    df: null,
    armValue: a[num] / a[den],
    controlValue: b[num] / b[den],
    alwaysValidP: textbook.msprtProportions(a[num], a[den], b[num], b[den], TAU[metric]),
  };
}

/**
 * A family of comparisons (one metric, groups against one baseline) against the textbook,
 * Holm included, and against scipy (keyed "metric:group").
 */
function expectFamily(got: Comparison[], metric: Metric, groups: Array<[string, ArmCounters]>, control: [string, ArmCounters], scipy?: Record<string, ScipyTest>): void {
  const family = got.filter((c) => c.metric === metric);
  expect(family.map((c) => c.arm)).toEqual(groups.map(([name]) => name));
  const tests = groups.map(([, c]) => textbookTest(metric, c, control[1]));
  const adjusted = textbook.holm(tests.map((t) => t.p));
  const alwaysValidAdjusted = textbook.holm(tests.map((t) => t.alwaysValidP));
  const tRel = metric === 'revenuePerRecipient' ? T_REL : REL;
  family.forEach((cmp, i) => {
    const want = tests[i];
    const what = `${metric} ${cmp.arm} vs ${control[0]}`;
    expect(cmp.control).toBe(control[0]);
    expectClose(cmp.armValue, want.armValue, REL, `${what} armValue`);
    expectClose(cmp.controlValue, want.controlValue, REL, `${what} controlValue`);
    expectClose(cmp.difference.value, want.difference, REL, `${what} difference`);
    expectClose(cmp.difference.low, want.low, tRel, `${what} low`);
    expectClose(cmp.difference.high, want.high, tRel, `${what} high`);
    expectClose(cmp.relativeLift, want.difference / want.controlValue, REL, `${what} relativeLift`);
    expectClose(cmp.statistic, want.statistic, REL, `${what} statistic`);
    if (want.df === null) expect(cmp.df).toBeNull();
    else expectClose(cmp.df, want.df, REL, `${what} df`);
    expectClose(cmp.p, want.p, tRel, `${what} p`);
    expectClose(cmp.adjustedP, adjusted[i], tRel, `${what} adjustedP`);
    expectClose(cmp.alwaysValidP, want.alwaysValidP, REL, `${what} alwaysValidP`);
    expectClose(cmp.alwaysValidAdjustedP, alwaysValidAdjusted[i], REL, `${what} alwaysValidAdjustedP`);
    expect(cmp.significant).toBe(adjusted[i] < 0.05);
    if (scipy === undefined) return;
    const ref = scipy[`${metric}:${cmp.arm}`];
    for (const key of ['low', 'high'] as const) expectClose(cmp.difference[key], ref[key], SCIPY_REL, `${what} ${key} scipy`);
    expectClose(cmp.difference.value, ref.difference, SCIPY_REL, `${what} difference scipy`);
    expectClose(cmp.statistic, ref.statistic, SCIPY_REL, `${what} statistic scipy`);
    if (ref.df !== null) expectClose(cmp.df, ref.df, SCIPY_REL, `${what} df scipy`);
    expectClose(cmp.p, ref.p, SCIPY_REL, `${what} p scipy`);
    if (ref.pNorm !== undefined) expectClose(cmp.p, ref.pNorm, SCIPY_REL, `${what} p scipy norm`);
    expectClose(cmp.adjustedP, ref.adjustedP, SCIPY_REL, `${what} adjustedP reference`);
    expectClose(cmp.alwaysValidP, ref.alwaysValidP, SCIPY_REL, `${what} alwaysValidP reference`);
    expectClose(cmp.alwaysValidAdjustedP, ref.alwaysValidAdjustedP, SCIPY_REL, `${what} alwaysValidAdjustedP reference`);
  });
}

function expectJsonable(report: ExperimentReport): void {
  expectFiniteOrNull(report);
  expect(JSON.parse(JSON.stringify(report))).toEqual(report);
}

// ---------------------------------------------------------------------------------------------

describe('A/B/n with a holdout', () => {
  const report = experimentReport({ arms: ABN });
  const [a, b, c, holdout] = ABN.map((arm) => arm.counters);

  test('the arms: counters as given, every rate with its interval', () => {
    expect(report.confidence).toBe(0.95);
    expect(report.control).toBe('A');
    expect(report.arms.map((arm) => [arm.name, arm.holdout, arm.expectedShare])).toEqual([['A', false, 0.3], ['B', false, 0.3], ['C', false, 0.3], ['holdout', true, 0.1]]);
    report.arms.forEach((arm, i) => {
      expect(arm.counters).toEqual(ABN[i].counters);
      expectRates(arm.rates, ABN[i].counters, SCIPY.abn.rates[arm.name], arm.name);
    });
    // No opens in the holdout (no email): click-to-open has nothing to estimate.
    expect(report.arms[3].rates.clickToOpen).toEqual({ value: null, low: null, high: null });
  });

  test('every arm against the control, per metric, Holm across the arms', () => {
    expect(report.comparisons).toHaveLength(10);
    for (const metric of COMPARED) expectFamily(report.comparisons, metric, [['B', b], ['C', c]], ['A', a], SCIPY.abn.comparisons);
    expect(report.comparisons.some((cmp) => cmp.arm === 'holdout')).toBe(false);
  });

  test('chi-squared across the arms (the holdout left out)', () => {
    expect(report.homogeneity.map((h) => h.metric)).toEqual(['open', 'clickThrough', 'clickToOpen', 'conversion']);
    for (const h of report.homogeneity) {
      const [num, den] = PROPORTIONS[h.metric];
      const want = textbook.chiSquaredRows([a, b, c].map((arm) => [arm[num], arm[den]]));
      const [statistic, df, p] = SCIPY.abn.homogeneity[h.metric];
      expectClose(h.statistic, want.statistic, REL, `${h.metric} statistic`);
      expectClose(h.p, want.p, REL, `${h.metric} p`);
      expect(h.df).toBe(2);
      expect(df).toBe(2);
      expectClose(h.statistic, statistic, SCIPY_REL, `${h.metric} statistic scipy`);
      expectClose(h.p, p, SCIPY_REL, `${h.metric} p scipy`);
    }
  });

  test('sample-ratio check: sent against the configured shares, holdout included', () => {
    const sent = ABN.map((arm) => arm.counters.sent);
    const want = textbook.goodnessOfFit(sent, [0.3, 0.3, 0.3, 0.1]);
    expect(report.srm.checked).toBe(true);
    expectClose(report.srm.statistic, want.statistic, REL, 'srm statistic');
    expectClose(report.srm.p, want.p, REL, 'srm p');
    expectClose(report.srm.statistic, SCIPY.abn.srm[0], SCIPY_REL, 'srm statistic scipy');
    expectClose(report.srm.p, SCIPY.abn.srm[1], SCIPY_REL, 'srm p scipy');
    expect(report.srm.df).toBe(3);
    expect(report.srm.mismatch).toBe(false);
    const total = sent.reduce((s, v) => s + v, 0);
    report.srm.arms.forEach((arm, i) => {
      expect(arm.name).toBe(ABN[i].name);
      expect(arm.sent).toBe(sent[i]);
      expectClose(arm.expected, total * (ABN[i].expectedShare as number), REL, `${arm.name} expected`);
    });
  });

  test('holdout lift: the arms pooled against the holdout', () => {
    const treated = sum([a, b, c]);
    const lift = report.holdoutLift;
    expect(lift).not.toBeNull();
    expect(lift?.treated).toEqual(treated);
    expect(lift?.holdout).toEqual(holdout);
    expectFamily([lift!.conversion], 'conversion', [['treated', treated]], ['holdout', holdout], { 'conversion:treated': SCIPY.abn.holdoutLift.conversion });
    expectFamily([lift!.revenuePerRecipient], 'revenuePerRecipient', [['treated', treated]], ['holdout', holdout], { 'revenuePerRecipient:treated': SCIPY.abn.holdoutLift.revenuePerRecipient });
  });

  test('no main effects without several variables; JSON-able', () => {
    expect(report.mainEffects).toEqual([]);
    expectJsonable(report);
  });

  test('another control', () => {
    const other = experimentReport({ arms: ABN, control: 'B' });
    expect(other.control).toBe('B');
    for (const metric of COMPARED) expectFamily(other.comparisons, metric, [['A', a], ['C', c]], ['B', b]);
  });
});

describe('2 x 2 multivariate', () => {
  const report = experimentReport({ arms: MVT });
  const [qp, qn, pp, pn] = MVT.map((arm) => arm.counters);

  test('every combination against the first, Holm across the three', () => {
    expect(report.control).toBe('question+popular');
    report.arms.forEach((arm, i) => {
      expect(arm.variables).toEqual(MVT[i].variables);
      expectRates(arm.rates, MVT[i].counters, SCIPY.mvt.rates[arm.name], arm.name);
    });
    expect(report.comparisons).toHaveLength(15);
    for (const metric of COMPARED) {
      expectFamily(report.comparisons, metric, [['question+none', qn], ['plain+popular', pp], ['plain+none', pn]], ['question+popular', qp], SCIPY.mvt.comparisons);
    }
  });

  test('main effects: each level pooled over the other variable, against the first level', () => {
    const levels = {
      subject: [['question', sum([qp, qn])], ['plain', sum([pp, pn])]],
      recs: [['popular', sum([qp, pp])], ['none', sum([qn, pn])]],
    } as Record<string, Array<[string, ArmCounters]>>;
    expect(report.mainEffects.map((effect) => effect.variable)).toEqual(['subject', 'recs']);
    for (const effect of report.mainEffects) {
      const want = levels[effect.variable];
      const scipy = SCIPY.mvt.mainEffects[effect.variable];
      expect(effect.levels.map((l) => l.level)).toEqual(want.map(([level]) => level));
      effect.levels.forEach((l, i) => {
        expect(l.counters).toEqual(want[i][1]);
        expectRates(l.rates, want[i][1], scipy.rates[l.level], `${effect.variable}=${l.level}`);
      });
      expect(effect.comparisons).toHaveLength(5);
      for (const metric of COMPARED) expectFamily(effect.comparisons, metric, [want[1]], want[0], scipy.comparisons);
    }
    // The data carry a real subject-line effect on opens: question 28.7% against plain 21.5%.
    const opens = report.mainEffects[0].comparisons.find((cmp) => cmp.metric === 'open');
    expect(opens?.significant).toBe(true);
    expect(opens!.relativeLift).toBeLessThan(0);
  });

  test('shares of 0.25 each: no mismatch; no holdout: no lift; JSON-able', () => {
    expect(report.srm.checked).toBe(true);
    expect(report.srm.mismatch).toBe(false);
    expect(report.holdoutLift).toBeNull();
    expectJsonable(report);
  });
});

describe('edges', () => {
  const zero = counters(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

  test('one arm: rates only', () => {
    const report = experimentReport({ arms: [ABN[0]] });
    expect(report.control).toBe('A');
    expect(report.comparisons).toEqual([]);
    expect(report.homogeneity.every((h) => h.statistic === null && h.p === null && h.df === 0)).toBe(true);
    expect(report.srm.checked).toBe(false);
    expect(report.srm.mismatch).toBe(false);
    expect(report.holdoutLift).toBeNull();
    expectRates(report.arms[0].rates, ABN[0].counters, SCIPY.abn.rates.A, 'A');
    expectJsonable(report);
  });

  test('an arm that sent nothing: null figures, no NaN', () => {
    const report = experimentReport({ arms: [ABN[0], { name: 'empty', holdout: false, expectedShare: 0.5, counters: zero }] });
    const empty = report.arms[1].rates;
    for (const estimate of Object.values(empty)) expect(estimate).toEqual({ value: null, low: null, high: null });
    for (const cmp of report.comparisons) {
      expect(cmp.armValue).toBeNull();
      expect(cmp.p).toBeNull();
      expect(cmp.adjustedP).toBeNull();
      expect(cmp.alwaysValidP).toBeNull();
      expect(cmp.alwaysValidAdjustedP).toBeNull();
      expect(cmp.relativeLift).toBeNull();
      expect(cmp.significant).toBe(false);
    }
    // The empty arm is left out of the chi-squared: one row remains.
    expect(report.homogeneity[0]).toEqual({ metric: 'open', statistic: null, df: 0, p: null });
    expectJsonable(report);
  });

  test('all successes, and no revenue anywhere (zero variance)', () => {
    const all = counters(200, 200, 0, 200, 200, 0, 0, 200, 200, 0, 0, 0, 0, 0);
    const most = counters(200, 200, 0, 190, 50, 0, 0, 20, 20, 0, 0, 0, 0, 0);
    const report = experimentReport({ arms: [{ name: 'x', holdout: false, expectedShare: null, counters: most }, { name: 'y', holdout: false, expectedShare: null, counters: all }] });
    expect(report.arms[1].rates.open).toEqual({ value: 1, low: textbook.wilson(200, 200)[1], high: 1 });
    expectClose(report.arms[1].rates.open.low, textbook.wilson(200, 200)[1], REL, 'low at all successes');
    expect(report.arms[1].rates.revenuePerRecipient).toEqual({ value: 0, low: 0, high: 0 });
    const revenue = report.comparisons.find((cmp) => cmp.metric === 'revenuePerRecipient');
    expect(revenue).toMatchObject({ difference: { value: 0, low: 0, high: 0 }, statistic: null, df: null, p: 1, adjustedP: 1, alwaysValidP: 1, alwaysValidAdjustedP: 1, significant: false, relativeLift: null });
    const opens = report.comparisons.find((cmp) => cmp.metric === 'open');
    expectClose(opens?.p, textbook.twoProportions(200, 200, 190, 200).p, REL, 'all successes against most');
    expect(opens?.significant).toBe(true);
    // A share unknown: no sample-ratio check.
    expect(report.srm).toMatchObject({ checked: false, statistic: null, p: null, mismatch: false });
    expectJsonable(report);
  });

  test('a broken split is flagged', () => {
    const report = experimentReport({
      arms: [
        { name: 'a', holdout: false, expectedShare: 0.5, counters: { ...zero, sent: 1000 } },
        { name: 'b', holdout: false, expectedShare: 0.5, counters: { ...zero, sent: 1200 } },
      ],
    });
    const want = textbook.goodnessOfFit([1000, 1200], [0.5, 0.5]);
    expectClose(report.srm.p, want.p, REL, 'srm p');
    expect(want.p).toBeLessThan(0.001);
    expect(report.srm.mismatch).toBe(true);
  });

  test('clicks without a counted open: no click-to-open rather than a wrong one', () => {
    const odd = counters(100, 100, 0, 5, 8, 0, 0, 1, 1, 100, 10000, 1, 1, 100);
    const report = experimentReport({ arms: [ABN[0], { name: 'odd', holdout: false, expectedShare: null, counters: odd }] });
    expect(report.arms[1].rates.clickToOpen).toEqual({ value: null, low: null, high: null });
    expect(report.comparisons.find((cmp) => cmp.metric === 'clickToOpen')).toMatchObject({ p: null, significant: false });
    expect(report.homogeneity.find((h) => h.metric === 'clickToOpen')).toEqual({ metric: 'clickToOpen', statistic: null, df: 0, p: null });
    expectJsonable(report);
  });

  test('only a holdout: its rates, nothing to compare', () => {
    const report = experimentReport({ arms: [ABN[3]] });
    expect(report.control).toBeNull();
    expect(report.comparisons).toEqual([]);
    expect(report.holdoutLift).toBeNull();
    expectRates(report.arms[0].rates, ABN[3].counters, SCIPY.abn.rates.holdout, 'holdout');
    expectJsonable(report);
  });

  test('fields beside the counters are dropped', () => {
    const stored = { ...ABN[0].counters, updatedAt: 1234 } as ArmCounters;
    const report = experimentReport({ arms: [{ ...ABN[0], counters: stored }] });
    expect(report.arms[0].counters).toEqual(ABN[0].counters);
  });

  test('bad input is refused with the reason', () => {
    expect(() => experimentReport({ arms: [ABN[0], ABN[0]] })).toThrow(/arm "A" appears twice/);
    expect(() => experimentReport({ arms: [ABN[3], { ...ABN[3], name: 'holdout2' }] })).toThrow(/2 holdouts/);
    expect(() => experimentReport({ arms: ABN, control: 'Z' })).toThrow(/control "Z" is not an arm; name one of: A, B, C/);
    expect(() => experimentReport({ arms: ABN, control: 'holdout' })).toThrow(/control "holdout" is not an arm/);
    expect(() => experimentReport({ arms: [{ ...ABN[0], counters: { ...ABN[0].counters, sent: -1 } }] })).toThrow(/bad input/);
    expect(() => experimentReport({ arms: [ABN[0]], confidence: 1 })).toThrow(/bad input/);
    expect(() => experimentReport({ arms: [] })).toThrow(/bad input/);
    expect(() => experimentReport({ arms: ABN, mixingSd: { convertion: 0.01 } as never })).toThrow(/bad input/);
    expect(() => experimentReport({ arms: ABN, mixingSd: { conversion: 0 } })).toThrow(/bad input/);
  });

  test('another confidence and mixing standard deviation', () => {
    const report = experimentReport({ arms: ABN, confidence: 0.9, mixingSd: { conversion: 0.01 } });
    const [a, b] = ABN.map((arm) => arm.counters);
    const cmp = report.comparisons.find((x) => x.metric === 'conversion' && x.arm === 'B')!;
    const want = textbook.twoProportions(b.converted, b.sent, a.converted, a.sent, 0.9);
    expectClose(cmp.difference.low, want.low, REL, 'low at 90%');
    expectClose(cmp.alwaysValidP, textbook.msprtProportions(b.converted, b.sent, a.converted, a.sent, 0.01), REL, 'mSPRT with tau 0.01');
    expectClose(report.arms[0].rates.open.low, textbook.wilson(250, 1000, 0.9)[1], REL, 'Wilson at 90%');
  });
});
