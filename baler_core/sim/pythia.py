"""NanoAOD-like events from Pythia 8 (the ``sim`` extra: ``pythia8mc`` and ``fastjet``): QCD 2->2 at 13 TeV,
clustered into jets as an analysis sees them, written with NanoAOD's tree layout.

Particle level (no detector, no pile-up), as the shared jets file (``../shared/data/README.md``): pT-hat > 30
GeV with a pT-hat^4 bias that ``genWeight`` undoes; parton shower, multi-parton interactions, hadronisation and
decays. Per event: ``run``, ``luminosityBlock``, ``event``, ``genWeight`` and ``MET_pt`` / ``MET_phi`` (the
neutrinos' summed transverse momentum); ``Jet`` (anti-kt R = 0.4 of the visible final state with |eta| < 5,
pt > 15 GeV and |eta| < 4.7, pt-ordered: ``pt``, ``eta``, ``phi``, ``mass`` float32, ``nConstituents`` uint8)
and ``Muon`` (final-state muons with pt > 3 GeV and |eta| < 2.4: ``pt``, ``eta``, ``phi`` float32, ``charge``
int32).

``pf=True`` adds the particle-level analogues of NanoAOD's PF-jet content (as in the shared jets file,
``../shared/data/README.md``): energy fractions ``chHEF`` (charged hadrons), ``neHEF`` (neutral hadrons),
``chEmEF`` (electrons), ``neEmEF`` (photons), ``muEF`` (muons) with |eta| < 3 and ``hfHEF`` / ``hfEmEF`` (hadrons /
everything else at 3 < |eta| < 5), which sum to one; multiplicities ``chMultiplicity`` (charged
constituents), ``neMultiplicity`` (neutral ones), ``nElectrons``, ``nMuons`` (uint8; ``chMultiplicity +
neMultiplicity = nConstituents``); and the quark-gluon substructure ``ptD`` (sqrt(sum pt_i^2) / sum pt_i) and
``girth`` (sum pt_i dR_i / pt).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from baler_core.errors import InputError

JET_PT_MIN = 15.0  # NanoAOD's jet threshold
MUON_PT_MIN = 3.0
PF_FRACTIONS = ("chHEF", "neHEF", "chEmEF", "neEmEF", "muEF", "hfHEF", "hfEmEF")
PF_COUNTS = ("chMultiplicity", "neMultiplicity", "nElectrons", "nMuons")
PF_SHAPES = ("ptD", "girth")


def _pythia(seed: int):
    try:
        import pythia8mc as pythia8
    except ImportError as exc:
        raise InputError("Pythia events need the sim extra: pip install 'baler[sim]' (pythia8mc, fastjet)") from exc
    py = pythia8.Pythia("", False)
    for s in ("Beams:eCM = 13000.", "HardQCD:all = on", "PhaseSpace:pTHatMin = 30.", "PhaseSpace:bias2Selection = on",
              "PhaseSpace:bias2SelectionPow = 4.", "PhaseSpace:bias2SelectionRef = 30.", "Print:quiet = on",
              "Random:setSeed = on", f"Random:seed = {seed % 900_000_000 + 1}"):
        py.readString(s)
    if not py.init():
        raise RuntimeError("Pythia failed to initialise")
    return py


def _species(pid: int, charged: bool, hadron: bool, eta: float) -> str:
    """The PF-like class of a visible final-state particle (the fraction it counts in)."""
    if abs(eta) > 3:
        return "hfHEF" if hadron else "hfEmEF"
    if pid == 13:
        return "muEF"
    if pid == 11:
        return "chEmEF"
    if pid == 22 or not hadron:
        return "neEmEF"
    return "chHEF" if charged else "neHEF"


def _pf_content(jet, info: list[tuple]) -> tuple:
    """The PF-like content of one jet from its constituents' (class, charged, E, pt, eta, phi)."""
    energy = dict.fromkeys(PF_FRACTIONS, 0.0)
    n_ch = n_e = n_mu = 0
    pts, drs = [], []
    jet_eta, jet_phi = jet.eta(), jet.phi_std()
    for c in jet.constituents():
        cls, charged, e, pt, eta, phi = info[c.user_index()]
        energy[cls] += e
        n_ch += charged
        n_e += cls == "chEmEF"
        n_mu += cls == "muEF"
        pts.append(pt)
        drs.append(np.hypot(eta - jet_eta, (phi - jet_phi + np.pi) % (2 * np.pi) - np.pi))
    total = sum(energy.values()) or 1.0
    pt = np.asarray(pts)
    n = len(pts)
    return (*(energy[k] / total for k in PF_FRACTIONS), n_ch, n - n_ch, n_e, n_mu,
            float(np.sqrt((pt**2).sum()) / pt.sum()), float((pt * np.asarray(drs)).sum() / jet.pt()))


CHUNK_EVENTS = 2000  # events per Pythia run: each chunk has its own seed, so the events do not depend on workers


def _generate(n_events: int, seed: int, pf: bool) -> dict:
    """One Pythia run: per-event lists and per-object columns, before they become arrays."""
    import fastjet

    py = _pythia(seed)
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)
    jets: dict[str, list] = {k: [] for k in ("pt", "eta", "phi", "mass", "nConstituents")}
    if pf:
        jets.update({k: [] for k in (*PF_FRACTIONS, *PF_COUNTS, *PF_SHAPES)})
    muons: dict[str, list] = {k: [] for k in ("pt", "eta", "phi", "charge")}
    n_jet, n_mu, weights, met = [], [], [], []
    while len(n_jet) < n_events:
        if not py.next():
            continue
        parts, nu, info = [], np.zeros(2), []
        nm = 0
        for p in py.event:
            if not p.isFinal():
                continue
            if p.idAbs() in (12, 14, 16):
                nu += (p.px(), p.py())
                continue
            if abs(p.eta()) > 5:
                continue
            parts.append(fastjet.PseudoJet(p.px(), p.py(), p.pz(), p.e()))
            if pf:
                parts[-1].set_user_index(len(info))
                info.append((_species(p.idAbs(), p.isCharged(), p.isHadron(), p.eta()), p.isCharged(), p.e(), p.pT(),
                             p.eta(), p.phi()))
            if p.idAbs() == 13 and p.pT() > MUON_PT_MIN and abs(p.eta()) < 2.4:
                for k, v in zip(muons, (p.pT(), p.eta(), p.phi(), -np.sign(p.id()))):
                    muons[k].append(v)
                nm += 1
        seq = fastjet.ClusterSequence(parts, jetdef)
        found = [j for j in fastjet.sorted_by_pt(seq.inclusive_jets(JET_PT_MIN)) if abs(j.eta()) < 4.7]
        for j in found:
            vals = (j.pt(), j.eta(), j.phi_std(), j.m(), len(j.constituents()), *(_pf_content(j, info) if pf else ()))
            for k, v in zip(jets, vals):
                jets[k].append(v)
        n_jet.append(len(found))
        n_mu.append(nm)
        weights.append(py.infoPython().weight())
        met.append(nu)
    return {"jets": jets, "muons": muons, "n_jet": n_jet, "n_mu": n_mu, "weights": weights, "met": met}


def _chunk_seed(seed: int, chunk: int) -> int:
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1)[0])


def pythia_events(n_events: int, seed: int = 0, pf: bool = False, workers: int = 1,
                  chunk_events: int = CHUNK_EVENTS) -> dict:
    """Top-level name -> array (numpy per event, awkward records for ``Jet`` and ``Muon``), as
    :func:`baler_core.sim.nanoaod.nanoaod_events`; ``pf``: the jets' PF-like content too (module docstring).
    The events come in chunks of ``chunk_events``, each a Pythia run with a seed of its own, generated by up
    to ``workers`` processes: the same events whatever the number of workers."""
    import awkward as ak

    sizes = [min(chunk_events, n_events - s) for s in range(0, n_events, chunk_events)] or [0]
    jobs = [(size, _chunk_seed(seed, i), pf) for i, size in enumerate(sizes)]
    if workers > 1 and len(jobs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as ex:
            parts = list(ex.map(_generate, *zip(*jobs)))
    else:
        parts = [_generate(*job) for job in jobs]
    cat = {key: {k: [v for part in parts for v in part[key][k]] for k in parts[0][key]} for key in ("jets", "muons")}
    n_jet = np.asarray([v for part in parts for v in part["n_jet"]], np.int64)
    n_mu = np.asarray([v for part in parts for v in part["n_mu"]], np.int64)
    w = np.asarray([v for part in parts for v in part["weights"]], np.float64)
    met = np.asarray([v for part in parts for v in part["met"]], np.float64).reshape(-1, 2)
    jets, muons = cat["jets"], cat["muons"]
    jet_cols = {k: np.asarray(v, np.float32) for k, v in jets.items()}
    for k in ("nConstituents", *(PF_COUNTS if pf else ())):
        jet_cols[k] = np.minimum(np.asarray(jets[k], np.int64), 255).astype(np.uint8)
    mu_cols = {k: np.asarray(v, np.float32) for k, v in muons.items()}
    mu_cols["charge"] = np.asarray(muons["charge"], np.int32)
    return {
        "run": np.full(n_events, 1, np.uint32),
        "luminosityBlock": (1 + np.arange(n_events) // 500).astype(np.uint32),
        "event": (1 + seed * 10_000_000 + np.arange(n_events)).astype(np.uint64),
        "genWeight": (w / w.mean() if w.size else w).astype(np.float32),
        "MET_pt": np.hypot(met[:, 0], met[:, 1]).astype(np.float32),
        "MET_phi": np.arctan2(met[:, 1], met[:, 0]).astype(np.float32),
        "Jet": ak.zip({k: ak.unflatten(v, n_jet) for k, v in jet_cols.items()}),
        "Muon": ak.zip({k: ak.unflatten(v, n_mu) for k, v in mu_cols.items()}),
    }


def write_pythia_nanoaod(path: str | Path, n_events: int, seed: int = 0, layout: str = "ttree",
                         pf: bool = False, workers: int = 1) -> Path:
    """Write :func:`pythia_events` as a TTree (``nJet`` + ``Jet_*``) or an RNTuple."""
    from baler_core.sim.nanoaod import write_arrays

    return write_arrays(path, pythia_events(n_events, seed, pf, workers), layout)
