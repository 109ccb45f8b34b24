"""Months of one evolving synthetic authority, for monthly operation (`--previous`) tests and benchmarks.

`generate_months(households, seed, out, months)` writes out/month-01, out/month-02, ... each laid
out like `generate()`'s folder (extracts/ and truth/), with extract dates at successive month ends.
Month 1 *is* `generate()`'s authority. Every later month is made from the month before by what
happens to a population in a month, so that records which persist keep their agency record ids and
tokens and the truth keeps stable person and household ids:

- moves: a household takes a flat that stood empty; each agency takes up the new address after
  its own lag (0-2 months; schools at once, the GP list and the register later). The register
  re-registers the elector (a new record id and elector number); the others amend the record.
  Police rows keep the address of the event (old events the old address).
- leavers: a household leaves the area and its rows leave every extract.
- arrivals: new households (drawn like month 1's, with fresh record ids) move into the flats vacated
  this month, and appear in each agency after its lag.
- births: a baby joins a household and appears on the GP list (this month or next).
- splits: a partner leaves the household for a flat of their own in the area (a new household).
- joins: a person living alone moves in with another household (their household ends).
- new police events, new and ended benefit claims, ended social-care episodes; school sessions
  accrue in the current term, and a new term brings new rows (the oldest term drops out).

truth/events.csv lists the month's events (household ids, person ids, UPRNs; no names), and
truth/households.csv the criteria on the true people at that month's extract date, so that a
run's `changes.parquet` can be scored against what really changed.
"""

from __future__ import annotations

import calendar
import datetime as dt
import pathlib
import types
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synth import criteria_truth, dates, identifiers
from synth.addresses import Dwellings, authority_dwellings
from synth.config import SynthConfig
from synth.corrupt import PROFILES
from synth.population import ROLES, build_population
from synth.randomness import stage_rng
from synth.render import Renderer
from synth.schema import COLUMNS, HARD_CASE_COLUMNS, RECORD_ID_PREFIX, SOURCES
from synth.sources import Context
from synth.sources.electoral_register import polling_districts
from synth.sources.police import WINDOW_DAYS
from synth.write import TRUTH_LINE_END, write_csv

EVENT_COLUMNS: tuple[str, ...] = ("event", "household_id", "person_id", "from_uprn", "to_uprn", "other_household_id")
# Columns holding an agency's person (or claim) token: arrivals whose token collides are not drawn.
TOKEN_COLUMNS: dict[str, tuple[str, ...]] = {
    "police": ("nominal_token",),
    "schools": ("upn_token",),
    "health": ("nhs_number_token",),
    "electoral_register": (),
    "benefits": ("claim_token", "ni_number_token"),
    "children_social_care": ("child_token",),
}
PERSON_COLUMNS: tuple[str, ...] = (
    "person_id", "household_id", "role", "forename", "middle_names", "surname", "birth_surname", "dob", "sex",
    "naming_tradition", "twin_of", "namesake_of",
)


@dataclass(frozen=True)
class MonthRates:
    """What happens in a month, as shares (of households, people, claims) and agency lags."""

    move: float = 0.02  # households moving to another flat in the area
    leave: float = 0.01  # households leaving the area
    arrive: float = 0.35  # share of the flats vacated this month that a new household takes
    birth: float = 0.004  # households with a woman of 18-45 that have a baby
    split: float = 0.004  # couples whose partner leaves for a flat of their own
    join: float = 0.003  # people living alone who move in with another household
    police_event: float = 0.004  # people with a new police event
    claim_start: float = 0.004  # adults with a new benefit claim (of those who have claimed before)
    claim_end: float = 0.01  # open benefit claims that end
    care_end: float = 0.05  # open social-care episodes that end
    # Probability of a lag of 0, 1, 2 months before an agency takes up a new address (or a newcomer).
    lags: dict[str, tuple[float, float, float]] = field(default_factory=lambda: {
        "police": (1.0, 0.0, 0.0),
        "schools": (0.8, 0.2, 0.0),
        "health": (0.5, 0.3, 0.2),
        "electoral_register": (0.2, 0.4, 0.4),
        "benefits": (0.7, 0.3, 0.0),
        "children_social_care": (0.7, 0.3, 0.0),
    })


def month_ends(first: dt.date, months: int) -> list[dt.date]:
    """`first`, then the last day of each following month."""
    out, y, m = [first], first.year, first.month
    for _ in range(months - 1):
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        out.append(dt.date(y, m, calendar.monthrange(y, m)[1]))
    return out


@dataclass
class _Pending:
    """Something an agency does in a later month: take up an address, or first list a newcomer."""

    month: int
    source: str
    people: np.ndarray  # person ids
    dwelling: int = -1  # readdress to this dwelling
    rows: pd.DataFrame | None = None  # or add these rows (with _person)


@dataclass
class World:
    """The authority between months: extract rows (with each row's true person), people, homes."""

    seed: int
    cfg: SynthConfig
    rates: MonthRates
    dw: Dwellings
    rows: dict[str, pd.DataFrame]  # spec columns + _person
    people: pd.DataFrame  # PERSON_COLUMNS + agency id columns, one row a resident
    home: dict[str, int]  # household_id -> dwelling index
    defects: pd.DataFrame
    hard: pd.DataFrame
    next_number: dict[str, int]
    next_person: int
    next_household: int
    id_width: dict[str, int]
    pending: list[_Pending] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    # -- reading month 1 ------------------------------------------------------------------------
    @classmethod
    def from_folder(cls, folder: pathlib.Path, households: int, seed: int, cfg: SynthConfig,
                    rates: MonthRates) -> World:
        """The world as `generate()` left it in `folder` (the gazetteer is rebuilt from the seed)."""
        dw = authority_dwellings(households, seed, cfg.vacancy)
        read = lambda p: pd.read_csv(p, dtype=str, keep_default_na=False)  # noqa: E731
        truth = read(folder / "truth" / "truth.csv")
        rows: dict[str, pd.DataFrame] = {}
        for s in SOURCES:
            frame = read(folder / "extracts" / f"{s}.csv")
            who = truth[truth["source"] == s].set_index("source_record_id")["person_id"]
            rows[s] = frame.assign(_person=frame["source_record_id"].map(who).to_numpy(dtype=object))
        people = read(folder / "truth" / "people.csv")
        hh = read(folder / "truth" / "households.csv")
        index = pd.Series(np.arange(dw.size), index=dw.uprn.astype(str))
        home = dict(zip(hh["household_id"], index.loc[hh["uprn"]].to_numpy().tolist(), strict=True))
        numbers = {s: int(f["source_record_id"].str[len(RECORD_ID_PREFIX[s]):].astype(int).max()) + 1
                   if len(f) else 1 for s, f in rows.items()}
        width = {s: max(7, len(str(len(f)))) for s, f in rows.items()}
        return cls(seed=seed, cfg=cfg, rates=rates, dw=dw, rows=rows, people=people, home=home,
                   defects=read(folder / "truth" / "defects.csv"), hard=read(folder / "truth" / "hard_cases.csv"),
                   next_number=numbers, next_person=int(people["person_id"].str[1:].astype(int).max()) + 1,
                   next_household=int(hh["household_id"].str[1:].astype(int).max()) + 1, id_width=width)

    # -- small helpers ----------------------------------------------------------------------------
    def rng(self, month: int, stage: str) -> np.random.Generator:
        return stage_rng(self.seed, f"month-{month}/{stage}")

    def tokens(self, identifiers_: np.ndarray) -> np.ndarray:
        """Tokens under the synthetic partnership's secret, as month 1's are."""
        return identifiers.tokens(identifiers_, identifiers.token_key(self.seed))

    def record_ids(self, source: str, n: int) -> np.ndarray:
        start = self.next_number[source]
        self.next_number[source] += n
        return identifiers.padded(RECORD_ID_PREFIX[source], np.arange(start, start + n), self.id_width[source])

    def new_person_ids(self, n: int) -> np.ndarray:
        out = identifiers.padded("P", np.arange(self.next_person, self.next_person + n), 8)
        self.next_person += n
        return out

    def new_household_ids(self, n: int) -> np.ndarray:
        out = identifiers.padded("H", np.arange(self.next_household, self.next_household + n), 7)
        self.next_household += n
        return out

    def members(self) -> pd.Series:
        """household_id -> number of residents."""
        return self.people.groupby("household_id").size()

    def vacant(self, exclude: set[int]) -> np.ndarray:
        """In-area dwellings nobody lives in (and not in `exclude`), in gazetteer order."""
        taken = np.zeros(self.dw.size, dtype=bool)
        taken[list(self.home.values())] = True
        if exclude:
            taken[list(exclude)] = True
        return np.flatnonzero(self.dw.in_area & ~taken)

    def lag(self, rng: np.random.Generator, source: str) -> int:
        return int(rng.choice(3, p=np.asarray(self.rates.lags[source]) / sum(self.rates.lags[source])))

    def event(self, event: str, household: str, person: str = "", from_d: int = -1, to_d: int = -1,
              other: str = "") -> None:
        uprn = lambda d: str(self.dw.uprn[d]) if d >= 0 else ""  # noqa: E731
        self.events.append({"event": event, "household_id": household, "person_id": person,
                            "from_uprn": uprn(from_d), "to_uprn": uprn(to_d), "other_household_id": other})

    def defect_ids(self, source: str) -> set[str]:
        return set(self.defects.loc[self.defects["source"] == source, "source_record_id"])


# -- how an agency writes an address ------------------------------------------------------------------


def render_address(source: str, dw: Dwellings, dwelling: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The address columns of `source` for rows at `dwelling`, through the agency's noise profile."""
    stand_in = types.SimpleNamespace(n_people=int(dwelling.size))
    r = Renderer(stand_in, dw, rng, PROFILES[source])  # type: ignore[arg-type]  # addresses read only n_people
    rows = np.arange(dwelling.size)
    cols = COLUMNS[source]
    if "address" in cols:
        out = {"address": r.address_single(dwelling, rows)}
    else:
        out = r.address_lines(dwelling, rows, sum(c.startswith("address_line_") for c in cols))
    out["postcode"] = r.postcode(dwelling)
    if "uprn" in cols:
        out["uprn"] = r.uprn(dwelling)
    return out


def _readdress(world: World, month: int, source: str, people: np.ndarray, dwelling: int) -> None:
    """An agency takes up a new address for some people (defect rows are left as they were sent)."""
    frame = world.rows[source]
    sent_broken = frame["source_record_id"].isin(world.defect_ids(source)).to_numpy()
    sel = frame["_person"].isin(people).to_numpy() & ~sent_broken
    if not sel.any():
        return
    rng = world.rng(month, f"{source}/readdress/{dwelling}")
    if source == "electoral_register":
        # Re-registration: the old entry goes, a new one (new record id and elector number) comes.
        moved = frame[sel].copy()
        world.rows[source] = frame[~sel]
        moved["source_record_id"] = world.record_ids(source, len(moved))
        district = polling_districts()[world.dw.locality_id[dwelling]]
        moved["elector_number"] = [f"{district}-{9000 + world.next_number[source] + i}" for i in range(len(moved))]
        for c, v in render_address(source, world.dw, np.full(len(moved), dwelling), rng).items():
            moved[c] = v
        world.rows[source] = pd.concat([world.rows[source], moved], ignore_index=True)
        return
    frame = frame.copy()
    for c, v in render_address(source, world.dw, np.full(int(sel.sum()), dwelling), rng).items():
        frame.loc[sel, c] = v
    world.rows[source] = frame


def _schedule_move(world: World, month: int, people: np.ndarray, dwelling: int, rng: np.random.Generator) -> None:
    """Every agency but the police takes up the new address after its own lag."""
    for source in SOURCES:
        if source == "police":
            continue  # an event keeps the address where it happened
        world.pending.append(_Pending(month + world.lag(rng, source), source, people, dwelling=dwelling))


def _remove_people(world: World, people: np.ndarray) -> None:
    for s, frame in world.rows.items():
        gone = frame["_person"].isin(people).to_numpy()
        world.rows[s] = frame[~gone]
    world.people = world.people[~world.people["person_id"].isin(people)]
    world.pending = [p for p in world.pending if not np.isin(p.people, people).all()]


# -- the month's events -------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, candidates: np.ndarray, share: float) -> np.ndarray:
    """A random subset of about `share` of the candidates, in candidate order."""
    return candidates[rng.random(candidates.size) < share]


def _leavers(world: World, month: int) -> list[int]:
    rng = world.rng(month, "leave")
    hh = np.array(sorted(world.home), dtype=object)
    vacated = []
    for h in _pick(rng, hh, world.rates.leave):
        people = world.people.loc[world.people["household_id"] == h, "person_id"].to_numpy()
        _remove_people(world, people)
        vacated.append(world.home.pop(h))
        world.event("left_area", h, from_d=vacated[-1])
    return vacated


def _movers(world: World, month: int, vacated: list[int]) -> None:
    rng = world.rng(month, "move")
    hh = np.array(sorted(world.home), dtype=object)
    movers = _pick(rng, hh, world.rates.move)
    free = rng.permutation(world.vacant(set(vacated)))
    for h, d in zip(movers, free, strict=False):
        old = world.home[h]
        world.home[h] = int(d)
        vacated.append(old)
        people = world.people.loc[world.people["household_id"] == h, "person_id"].to_numpy()
        _schedule_move(world, month, people, int(d), rng)
        world.event("moved", h, from_d=old, to_d=int(d))


def _splits(world: World, month: int, vacated: list[int], ref: int) -> None:
    """A partner leaves for an empty flat of their own: a new household of one."""
    rng = world.rng(month, "split")
    partners = world.people.loc[world.people["role"] == "PARTNER", ["person_id", "household_id"]]
    chosen = partners[rng.random(len(partners)) < world.rates.split]
    free = rng.permutation(world.vacant(set(vacated)))
    for (person, h), d in zip(chosen.itertuples(index=False), free, strict=False):
        new = world.new_household_ids(1)[0]
        world.people.loc[world.people["person_id"] == person, ["household_id", "role"]] = [new, "HRP"]
        world.home[new] = int(d)
        _end_joint_claims(world, month, person, ref)
        _schedule_move(world, month, np.array([person], dtype=object), int(d), rng)
        world.event("split", h, person, from_d=world.home[h], to_d=int(d), other=new)


def _end_joint_claims(world: World, month: int, person: str, ref: int) -> None:
    """A couple that parts ends its joint benefit claims: each side claims again on its own."""
    frame = world.rows["benefits"]
    bad = frame["source_record_id"].isin(world.defect_ids("benefits")).to_numpy()
    open_ = (frame["claim_end"] == "").to_numpy() & ~bad
    theirs = set(frame.loc[open_ & (frame["_person"] == person).to_numpy(), "claim_token"])
    joint = open_ & frame["claim_token"].isin(theirs).to_numpy()
    if not joint.any() or frame.loc[joint, "_person"].nunique() < 2:
        return
    rng = world.rng(month, f"benefits/split/{person}")
    claims = frame[joint].copy()
    frame = frame.copy()
    end = dates.format_dates(np.array([ref - int(rng.integers(0, 28))]), "iso")[0]
    frame.loc[joint, "claim_end"] = end
    leaver = claims["_person"] == person
    parts = [claims[leaver].assign(role="CLAIMANT"), claims[~leaver].copy()]
    if (parts[1]["role"] == "CLAIMANT").sum() == 0 and len(parts[1]):
        first = parts[1].index[(parts[1]["role"] != "DEPENDANT").to_numpy()][:1]
        parts[1].loc[first, "role"] = "CLAIMANT"
    renewed = []
    for part in parts:
        if part.empty:
            continue
        token = world.tokens(np.array([f"SPLIT{month}-{person}-{len(renewed)}-{rng.integers(10**9)}"],
                                      dtype=object))[0]
        renewed.append(part.assign(claim_token=token, claim_start=end, claim_end="",
                                   source_record_id=world.record_ids("benefits", len(part))))
    world.rows["benefits"] = pd.concat([frame, *renewed], ignore_index=True)


def _joins(world: World, month: int, vacated: list[int], ref: int) -> None:
    """Someone living alone moves in with another household whose reference person also lives without a partner."""
    rng = world.rng(month, "join")
    size = world.members()
    alone = world.people[world.people["household_id"].map(size).eq(1) & world.people["role"].eq("HRP")]
    alone = alone[dates.age_on(criteria_truth.parse_dates(list(alone["dob"]), "iso"),
                               ref) >= 18]
    joiners = alone[rng.random(len(alone)) < world.rates.join]
    has_partner = set(world.people.loc[world.people["role"] == "PARTNER", "household_id"])
    hosts = np.array(sorted(h for h in world.home if h not in has_partner and size.get(h, 0) >= 2), dtype=object)
    for person, h in joiners[["person_id", "household_id"]].itertuples(index=False):
        if not hosts.size or h not in world.home:
            continue
        host = hosts[int(rng.integers(hosts.size))]
        world.people.loc[world.people["person_id"] == person, ["household_id", "role"]] = [host, "PARTNER"]
        old = world.home.pop(h)
        vacated.append(old)
        _schedule_move(world, month, np.array([person], dtype=object), world.home[host], rng)
        world.event("joined", host, person, from_d=old, to_d=world.home[host], other=h)
        hosts = hosts[hosts != host]


def _births(world: World, month: int, ref: int) -> None:
    """A baby joins a household and is registered with the mother's GP (this month or the next)."""
    rng = world.rng(month, "birth")
    p = world.people
    dob = criteria_truth.parse_dates(list(p["dob"]), "iso")
    age = dates.age_on(dob, ref)
    mothers = p[(p["sex"] == "F") & (age >= 18) & (age <= 45) & p["role"].isin(["HRP", "PARTNER"])]
    mothers = mothers.drop_duplicates("household_id")
    mothers = mothers[rng.random(len(mothers)) < world.rates.birth]
    if mothers.empty:
        return
    young = p[(age <= 4)]
    health = world.rows["health"]
    babies = []
    for m in mothers.itertuples(index=False):
        sex = "F" if rng.random() < 0.488 else "M"
        taken = set(p.loc[p["household_id"] == m.household_id, "forename"])  # not a sibling's name
        names = young.loc[(young["sex"] == sex) & ~young["forename"].isin(taken), "forename"].to_numpy()
        forename = names[int(rng.integers(names.size))] if names.size else ("Amelia" if sex == "F" else "Oliver")
        birth = ref - int(rng.integers(0, 28))
        person = world.new_person_ids(1)[0]
        babies.append({**dict.fromkeys(world.people.columns, ""), "person_id": person,
                       "household_id": m.household_id, "role": "CHILD", "forename": forename,
                       "surname": m.surname, "birth_surname": m.surname, "dob": dates.format_dates(
                           np.array([birth]), "iso")[0], "sex": sex, "naming_tradition": m.naming_tradition})
        world.event("birth", m.household_id, person)
        mine = health[(health["_person"] == m.person_id) & ~health["source_record_id"].isin(world.defect_ids("health"))]
        if mine.empty:
            continue  # the mother is not on the GP list, nor then is the baby
        row = mine.iloc[[0]].copy()
        for c, v in render_address("health", world.dw, np.array([world.home[m.household_id]]), rng).items():
            row[c] = v  # a birth is registered at the family's address, whatever the GP list had
        case = str.upper if str(row["surname"].iat[0]).isupper() else (lambda s: s)
        token = world.tokens(identifiers.nhs_numbers(rng, 1))
        row = row.assign(source_record_id="", nhs_number_token=token,
                         forename=case(forename), surname=case(m.surname),
                         dob=dates.format_dates(np.array([birth]), "iso"), sex=sex, mental_health="0",
                         substance_misuse="0", ae_attendances_12m=str(int(rng.poisson(0.3))), _person=person)
        world.pending.append(_Pending(month + int(rng.random() < 0.3), "health", np.array([person], dtype=object),
                                      rows=row))
    world.people = pd.concat([world.people, pd.DataFrame(babies)], ignore_index=True)


def _arrivals(world: World, month: int, vacated: list[int], extract_date: dt.date) -> None:
    """New households into the flats vacated this month, drawn as month 1's were, listed after each agency's lag."""
    rng = world.rng(month, "arrive")
    targets = np.array([d for d in vacated if rng.random() < world.rates.arrive], dtype="int64")
    if not targets.size:
        return
    ref = dates.day_number(extract_date)
    pop = build_population(world.rng(month, "arrivals/population"), targets.size, world.dw, extract_date, world.cfg)
    arrived = ref - rng.integers(0, 28, targets.size)
    pop.hh_dwelling = targets
    pop.hh_prev_dwelling = np.full(targets.size, -1)
    pop.hh_moved_on = arrived
    pop.hh_id = world.new_household_ids(targets.size)
    pop.person_id = world.new_person_ids(pop.n_people)
    from synth import _BUILDERS  # the month-1 builders, for newcomers drawn the same way

    ctx = Context(pop=pop, dw=world.dw, cfg=world.cfg, seed=world.seed * 1_000 + month, extract_date=extract_date,
                  key=identifiers.token_key(world.seed))
    frames: dict[str, pd.DataFrame] = {}
    clash: set[str] = set()
    for source in SOURCES:
        ex = _BUILDERS[source](ctx)
        frame = ex.frame.assign(_person=pop.person_id[ex.pidx], _household=pop.hh_id[pop.hh[ex.pidx]])
        if source == "police":  # events before they came happened elsewhere
            day = criteria_truth.parse_dates(list(frame["event_date"]), "dmy")
            frame = frame[day >= arrived[pop.hh[ex.pidx]]]
        for c in TOKEN_COLUMNS[source]:
            old = set(world.rows[source][c])
            clash |= set(frame.loc[frame[c].isin(old) & frame[c].ne(""), "_household"])
        frames[source] = frame
    people = pd.DataFrame({
        "person_id": pop.person_id, "household_id": pop.hh_id[pop.hh], "role": np.array(ROLES, dtype=object)[pop.role],
        "forename": pop.forename, "middle_names": pop.middle_names, "surname": pop.surname,
        "birth_surname": pop.birth_surname, "dob": dates.format_dates(pop.dob, "iso"), "sex": pop.sex,
    })
    people = people[~people["household_id"].isin(clash)]
    world.people = pd.concat([world.people, people], ignore_index=True).fillna("")
    for h, d in zip(pop.hh_id, targets, strict=True):
        if h not in clash:
            world.home[h] = int(d)
            world.event("arrived", h, to_d=int(d))
    for source, frame in frames.items():
        frame = frame[~frame["_household"].isin(clash)]
        for _, part in frame.groupby("_household", sort=True):
            world.pending.append(_Pending(month + world.lag(rng, source), source, part["_person"].unique(),
                                          rows=part.drop(columns="_household")))


def _police_events(world: World, month: int, start: int, ref: int) -> None:
    """New events for people the force already knows, at the address they live at now."""
    rng = world.rng(month, "police")
    frame = world.rows["police"]
    clean = frame[~frame["source_record_id"].isin(world.defect_ids("police"))]
    latest = clean.drop_duplicates("_person", keep="last")
    latest = latest[latest["_person"].isin(world.people["person_id"])]
    new = latest[rng.random(len(latest)) < world.rates.police_event * 8].copy()
    if not new.empty:
        kinds = clean[["event_type", "outcome", "role"]].to_numpy()
        new[["event_type", "outcome", "role"]] = kinds[rng.integers(0, len(kinds), len(new))]
        new["event_date"] = dates.format_dates(rng.integers(start + 1, ref + 1, len(new)), "dmy")
        household = new["_person"].map(world.people.set_index("person_id")["household_id"])
        d = household.map(world.home).to_numpy(dtype="int64")
        for c, v in render_address("police", world.dw, d, rng).items():
            new[c] = v
        new["source_record_id"] = world.record_ids("police", len(new))
    # The extract holds three years: events older than that drop out (rows sent broken stay as sent).
    bad = frame["source_record_id"].isin(world.defect_ids("police")).to_numpy()
    day = np.full(len(frame), criteria_truth.BLANK, dtype="int64")
    day[~bad] = criteria_truth.parse_dates(list(frame.loc[~bad, "event_date"]), "dmy")
    keep = bad | (day > ref - WINDOW_DAYS) | (day == criteria_truth.BLANK)
    world.rows["police"] = pd.concat([frame[keep], new], ignore_index=True)


def _claims(world: World, month: int, start: int, ref: int) -> None:
    rng = world.rng(month, "benefits")
    frame = world.rows["benefits"].copy()
    bad = frame["source_record_id"].isin(world.defect_ids("benefits")).to_numpy()
    open_ = (frame["claim_end"] == "").to_numpy() & ~bad
    ends = open_ & (rng.random(len(frame)) < world.rates.claim_end)
    # A claim ends for everyone on it (claimant, partner, dependants share its token).
    ending = set(frame.loc[ends, "claim_token"])
    ends = open_ & frame["claim_token"].isin(ending).to_numpy()
    frame.loc[ends, "claim_end"] = dates.format_dates(rng.integers(start + 1, ref + 1, int(ends.sum())), "iso")
    claimants = frame[~bad & (frame["role"] == "CLAIMANT")].drop_duplicates("_person", keep="last")
    claimants = claimants[claimants["_person"].isin(world.people["person_id"])]
    new = claimants[rng.random(len(claimants)) < world.rates.claim_start * 4].copy()
    if not new.empty:
        kinds = frame.loc[~bad & (frame["role"] == "CLAIMANT"), ["benefit_type", "uc_work_group"]].to_numpy()
        new[["benefit_type", "uc_work_group"]] = kinds[rng.integers(0, len(kinds), len(new))]
        new["claim_start"] = dates.format_dates(rng.integers(start + 1, ref + 1, len(new)), "iso")
        new["claim_end"] = ""
        numbers = rng.integers(10**11, 10**12, len(new)).astype(str)
        new["claim_token"] = world.tokens(np.char.add(f"NEWCLAIM{month}-", numbers).astype(object))
        new["source_record_id"] = world.record_ids("benefits", len(new))
    world.rows["benefits"] = pd.concat([frame, new], ignore_index=True)


def _care(world: World, month: int, start: int, ref: int) -> None:
    rng = world.rng(month, "children_social_care")
    frame = world.rows["children_social_care"].copy()
    bad = frame["source_record_id"].isin(world.defect_ids("children_social_care")).to_numpy()
    ends = (frame["end_date"] == "").to_numpy() & ~bad & (rng.random(len(frame)) < world.rates.care_end)
    frame.loc[ends, "end_date"] = dates.format_dates(rng.integers(start + 1, ref + 1, int(ends.sum())), "iso")
    world.rows["children_social_care"] = frame


def _schools(world: World, month: int, previous: dt.date, extract_date: dt.date) -> None:
    """Sessions accrue in the current term; a term that began since last month brings new rows."""
    rng = world.rng(month, "schools")
    frame = world.rows["schools"].copy()
    bad = frame["source_record_id"].isin(world.defect_ids("schools")).to_numpy()
    terms = dates.academic_terms(extract_date, 3)
    before = dates.academic_terms(previous, 3)
    year, term, first, last = terms[-1]
    days = lambda upto: 2 * dates.school_days(first, min(last, upto))  # noqa: E731
    current = (frame["academic_year"] == year).to_numpy() & (frame["term"] == term).to_numpy() & ~bad
    if terms[-1] == before[-1]:
        extra = days(extract_date) - days(previous)
        if extra > 0 and current.any():
            possible = frame.loc[current, "sessions_possible"].astype(int).to_numpy()
            on_roll = possible > 0
            auth = frame.loc[current, "sessions_authorised"].astype(int).to_numpy()
            unauth = frame.loc[current, "sessions_unauthorised"].astype(int).to_numpy()
            rate_a = np.where(on_roll, auth / np.maximum(possible, 1), 0)
            rate_u = np.where(on_roll, unauth / np.maximum(possible, 1), 0)
            add = np.where(on_roll, extra, 0)
            new_a = rng.binomial(add, np.clip(rate_a, 0, 1))
            new_u = np.minimum(rng.binomial(add, np.clip(rate_u, 0, 1)), add - new_a)
            frame.loc[current, "sessions_possible"] = (possible + add).astype(str)
            frame.loc[current, "sessions_authorised"] = (auth + new_a).astype(str)
            frame.loc[current, "sessions_unauthorised"] = (unauth + new_u).astype(str)
    else:
        # A new term: each pupil's latest row is carried into it, and the oldest term drops out.
        held = {(y, t) for y, t, _, _ in terms}
        terms_held = pd.Series(list(zip(frame["academic_year"], frame["term"], strict=True)), index=frame.index)
        in_window = terms_held.isin(held)
        latest = frame[~bad].drop_duplicates("_person", keep="last")
        latest = latest[latest["_person"].isin(world.people["person_id"])].copy()
        n = len(latest)
        possible = np.full(n, days(extract_date))
        latest["academic_year"], latest["term"] = year, term
        latest["sessions_possible"] = possible.astype(str)
        latest["sessions_authorised"] = rng.binomial(possible, 0.03).astype(str)
        latest["sessions_unauthorised"] = rng.binomial(possible, 0.01).astype(str)
        latest["suspensions"], latest["permanent_exclusion"] = "0", "0"
        latest["source_record_id"] = world.record_ids("schools", n)
        frame = pd.concat([frame[in_window.to_numpy() | bad], latest], ignore_index=True)
    world.rows["schools"] = frame


def _apply_pending(world: World, month: int) -> None:
    due = [p for p in world.pending if p.month <= month]
    world.pending = [p for p in world.pending if p.month > month]
    present = set(world.people["person_id"])
    for p in due:
        people = np.array([x for x in p.people if x in present], dtype=object)
        if not people.size:
            continue
        if p.rows is not None:
            rows = p.rows[p.rows["_person"].isin(people)].copy()
            rows["source_record_id"] = world.record_ids(p.source, len(rows))
            world.rows[p.source] = pd.concat([world.rows[p.source], rows], ignore_index=True)
        else:
            _readdress(world, month, p.source, people, p.dwelling)


def advance(world: World, month: int, previous: dt.date, extract_date: dt.date) -> None:
    """One month of events, in a fixed order so that the same seed gives the same month."""
    world.events = []
    start, ref = dates.day_number(previous), dates.day_number(extract_date)
    vacated = _leavers(world, month)
    _movers(world, month, vacated)
    _splits(world, month, vacated, ref)
    _joins(world, month, vacated, ref)
    _births(world, month, ref)
    _arrivals(world, month, vacated, extract_date)
    _apply_pending(world, month)
    _police_events(world, month, start, ref)
    _claims(world, month, start, ref)
    _care(world, month, start, ref)
    _schools(world, month, previous, extract_date)
    for source, frame in world.rows.items():
        world.rows[source] = frame.assign(extract_date=extract_date.isoformat())


# -- writing a month ----------------------------------------------------------------------------------


def write_month(world: World, folder: pathlib.Path, extract_date: dt.date) -> dict[str, int]:
    """extracts/ and truth/ for the world as it stands; returns rows per source."""
    ext, tru = folder / "extracts", folder / "truth"
    ext.mkdir(parents=True, exist_ok=True)
    tru.mkdir(parents=True, exist_ok=True)
    household_of = world.people.set_index("person_id")["household_id"]
    truth_parts, rows = [], {}
    for source in SOURCES:
        frame = world.rows[source]
        write_csv(frame[list(COLUMNS[source])], ext / f"{source}.csv")
        truth_parts.append(pd.DataFrame({"source": source, "source_record_id": frame["source_record_id"].to_numpy(),
                                         "person_id": frame["_person"].to_numpy(),
                                         "household_id": frame["_person"].map(household_of).to_numpy()}))
        rows[source] = len(frame)
    write_csv(pd.concat(truth_parts, ignore_index=True), tru / "truth.csv", TRUTH_LINE_END)
    present = {s: set(f["source_record_id"]) for s, f in world.rows.items()}
    keep = lambda t: t[[r in present[s] for s, r in zip(t["source"], t["source_record_id"], strict=True)]]  # noqa: E731
    world.defects, world.hard = keep(world.defects), keep(world.hard)
    write_csv(world.defects, tru / "defects.csv", TRUTH_LINE_END)
    write_csv(world.hard[list(HARD_CASE_COLUMNS)], tru / "hard_cases.csv", TRUTH_LINE_END)
    write_csv(world.people.fillna(""), tru / "people.csv", TRUTH_LINE_END)
    write_csv(_households(world, extract_date), tru / "households.csv", TRUTH_LINE_END)
    write_csv(pd.DataFrame(world.events, columns=list(EVENT_COLUMNS)), tru / "events.csv", TRUTH_LINE_END)
    write_csv(world.dw.gazetteer(), tru / "gazetteer.csv", TRUTH_LINE_END)
    return rows


def _households(world: World, extract_date: dt.date) -> pd.DataFrame:
    """household_id, uprn, postcode, members, children and the criteria, on the true people."""
    people = world.people
    rows = {s: f.rename(columns={"_person": "person_id"}) for s, f in world.rows.items()}
    criteria = criteria_truth.evaluate(rows, people[["person_id", "household_id", "dob"]], extract_date,
                                       world.defects)
    ref = dates.day_number(extract_date)
    child = dates.age_on(criteria_truth.parse_dates(list(people["dob"]), "iso"), ref) < 18
    counts = pd.DataFrame({"household_id": people["household_id"].to_numpy(), "child": child}).groupby(
        "household_id", sort=False).agg(members=("child", "size"), children=("child", "sum"))
    d = criteria["household_id"].map(world.home).to_numpy(dtype="int64")
    base = pd.DataFrame({"household_id": criteria["household_id"], "uprn": world.dw.uprn[d],
                         "postcode": world.dw.postcode[d]})
    base = base.join(counts, on="household_id")
    return pd.concat([base, criteria.drop(columns="household_id")], axis=1)


def generate_months(households: int, seed: int, out: pathlib.Path, months: int,
                    first_extract_date: dt.date = dt.date(2026, 10, 31), config: SynthConfig | None = None,
                    rates: MonthRates | None = None) -> list[dict]:
    """Write out/month-01 ... out/month-<months>; return a summary per month (counts only)."""
    from synth import generate

    if months < 1:
        raise ValueError("months must be at least 1")
    cfg = config or SynthConfig()
    out = pathlib.Path(out)
    ends = month_ends(first_extract_date, months)
    first = out / "month-01"
    stats = generate(households, seed, first, extract_date=ends[0], config=cfg)
    summary = [{"month": 1, "extract_date": ends[0].isoformat(), "households": stats["households"],
                "people": stats["people"], "total_rows": stats["total_rows"], "events": 0}]
    if months == 1:
        return summary
    world = World.from_folder(first, households, seed, cfg, rates or MonthRates())
    for m in range(2, months + 1):
        advance(world, m, ends[m - 2], ends[m - 1])
        rows = write_month(world, out / f"month-{m:02d}", ends[m - 1])
        summary.append({"month": m, "extract_date": ends[m - 1].isoformat(), "households": len(world.home),
                        "people": len(world.people), "total_rows": sum(rows.values()), "events": len(world.events)})
    return summary


__all__ = ["EVENT_COLUMNS", "MonthRates", "World", "generate_months", "month_ends"]
