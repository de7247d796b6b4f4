"""`meterd analyze --wiring 3p4w|3p3w` (SPEC.md, "Three-phase"): the binary on generated CSV."""
import cmath
import json
import math
import subprocess

from harness import METERD, IntegrationTest, main

RATE = 6400


def run(args, stdin):
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60)


def system():
    """Phase b at 90 %, c 5 degrees off and at 120 % current: RMS phasors of V and I."""
    v = [cmath.rect(230, 0), cmath.rect(207, math.radians(-120)), cmath.rect(230, math.radians(125))]
    lag = [25, 45, -15]
    i = [cmath.rect(m, cmath.phase(v[p]) - math.radians(lag[p])) for p, m in enumerate((10, 10, 12))]
    return v, i


def csv(v, i, delta, freq=50.0, seconds=1.0):
    lines = ["vab,vbc,vca,ia,ib,ic" if delta else "va,vb,vc,ia,ib,ic"]
    for n in range(int(RATE * seconds)):
        w = 2 * math.pi * freq * n / RATE

        def inst(x):
            return math.sqrt(2) * abs(x) * math.sin(w + cmath.phase(x))

        vs = [inst(x) for x in v]
        if delta:
            vs = [vs[0] - vs[1], vs[1] - vs[2], vs[2] - vs[0]]
        lines.append(",".join(f"{x:.5f}" for x in vs + [inst(x) for x in i]))
    return "\n".join(lines) + "\n"


def u2(v):
    a = cmath.rect(1, 2 * math.pi / 3)
    return 100 * abs(v[0] + a * a * v[1] + a * v[2]) / abs(v[0] + a * v[1] + a * a * v[2])


class AnalyzeThreePhase(IntegrationTest):
    def test_3p4w_prints_what_spec_fixes(self):
        v, i = system()
        r = run([METERD, "analyze", "--rate", str(RATE), "--wiring", "3p4w"], csv(v, i, False, 49.8))
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        for key in ("frequency_hz", "p_w", "q_var", "s_va", "pf", "phases", "unbalance_u2_pct",
                    "unbalance_u0_pct", "neutral_irms", "sequence"):
            self.assertIn(key, out)
        self.assertAlmostEqual(out["frequency_hz"], 49.8, delta=0.01)
        total = 0
        for p, name in enumerate("abc"):
            ph = out["phases"][name]
            for key in ("vrms", "irms", "p_w", "q_var", "pf", "phase_deg", "thd_v", "thd_i",
                        "harmonics_v", "harmonics_i"):
                self.assertIn(key, ph)
            self.assertEqual(len(ph["harmonics_v"]), 51)
            pw = (v[p] * i[p].conjugate()).real
            total += pw
            self.assertAlmostEqual(ph["vrms"], abs(v[p]), delta=abs(v[p]) * 0.001)
            self.assertAlmostEqual(ph["irms"], abs(i[p]), delta=abs(i[p]) * 0.001)
            self.assertAlmostEqual(ph["p_w"], pw, delta=abs(pw) * 0.002)
            self.assertAlmostEqual(ph["pf"], pw / abs(v[p]) / abs(i[p]), delta=0.002)
        self.assertAlmostEqual(out["p_w"], total, delta=total * 0.002)
        self.assertAlmostEqual(out["unbalance_u2_pct"], u2(v), delta=0.15)
        self.assertAlmostEqual(out["neutral_irms"], abs(sum(i)), delta=abs(sum(i)) * 0.005)
        self.assertEqual(out["sequence"], "abc")

    def test_3p3w_and_acb(self):
        v, i = system()
        i[2] = -(i[0] + i[1])
        r = run([METERD, "analyze", "--rate", str(RATE), "--wiring", "3p3w"], csv(v, i, True))
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        total = sum((v[p] * i[p].conjugate()).real for p in range(3))
        self.assertAlmostEqual(out["p_w"], total, delta=total * 0.002)
        self.assertIsNone(out["neutral_irms"])
        self.assertAlmostEqual(out["voltage_ab"], abs(v[0] - v[1]), delta=abs(v[0] - v[1]) * 0.001)
        swapped_v, swapped_i = [v[0], v[2], v[1]], [i[0], i[2], i[1]]
        r = run([METERD, "analyze", "--rate", str(RATE), "--wiring", "3p4w"],
                csv(swapped_v, swapped_i, False))
        self.assertEqual(json.loads(r.stdout)["sequence"], "acb")

    def test_bad_input_is_one_line_and_exit_2(self):
        r = run([METERD, "analyze", "--rate", str(RATE), "--wiring", "3p4w"], "1,2\n3,4\n")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        self.assertIn("line 1: expected 'va,vb,vc,ia,ib,ic'", r.stderr)
        r = run([METERD, "analyze", "--rate", str(RATE), "--wiring", "delta"], "")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--wiring", r.stderr)


if __name__ == "__main__":
    main()
