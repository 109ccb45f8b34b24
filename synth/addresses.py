"""A synthetic gazetteer: invented streets, houses and flats, UPRNs and postcodes.

Street names are invented from generic stems and suffixes; localities and towns are invented;
postcodes use the real format with districts that do not exist (LS30 upwards, BD40 upwards),
so no generated address is anyone's real address. Buildings are split into flats
("Flat 3, 12 Acorn Road") so that several households share one street address, and each
postcode covers about fifteen dwellings, as in the real Postcode Address File.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.names import DATA

# Inward-code unit letters exclude C, I, K, M, O, V in real postcodes.
_UNIT_LETTERS = list("ABDEFGHJLNPQRSTUWXYZ")
UNIT_CODES = np.array([a + b for a in _UNIT_LETTERS for b in _UNIT_LETTERS])
_PER_DISTRICT = 10 * UNIT_CODES.size  # sectors 0-9 x 400 units


@dataclass(frozen=True)
class Town:
    """An invented town: its localities, its postcode area and first district number."""

    name: str
    localities: tuple[str, ...]
    area: str
    first_district: int
    uprn_base: int


@dataclass(frozen=True)
class Dwellings:
    """One row per dwelling (arrays of equal length), ordered street by street."""

    uprn: np.ndarray  # int64, up to 12 digits
    flat: np.ndarray  # object: 'Flat 3', 'Flat B' or ''
    number: np.ndarray  # int house number
    street: np.ndarray  # object
    suffix_abbrev: np.ndarray  # object: abbreviation of the street's suffix ('Rd')
    locality: np.ndarray  # object
    town: np.ndarray  # object
    postcode: np.ndarray  # object, canonical 'LS31 2AB'
    locality_id: np.ndarray  # int, index into all localities
    building: np.ndarray  # int building id (shared by flats of one building)
    in_area: np.ndarray  # bool: inside the authority
    street_line: np.ndarray  # object '12 Acorn Road'
    full_line: np.ndarray  # object 'Flat 3, 12 Acorn Road' (or the street line)

    @property
    def size(self) -> int:
        return int(self.uprn.size)

    @property
    def is_flat(self) -> np.ndarray:
        return self.flat != ""

    def gazetteer(self) -> pd.DataFrame:
        """AddressBase-like listing (uprn, sao, pao, street, locality, town, postcode)."""
        return pd.DataFrame(
            {
                "uprn": self.uprn,
                "sao": self.flat,
                "pao": self.number,
                "street": self.street,
                "locality": self.locality,
                "town": self.town,
                "postcode": self.postcode,
                "in_area": self.in_area.astype(int),
            }
        )


def load_towns() -> tuple[Town, Town]:
    """The authority (Aldermoor, area LS) and its invented neighbour (Brackenfold, area BD)."""
    with open(DATA / "localities.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    home = tuple(r["locality"] for r in rows if r["town"] == "Aldermoor")
    away = tuple(r["locality"] for r in rows if r["town"] == "Brackenfold")
    return (
        Town("Aldermoor", home, "LS", 30, 10_090_000_000),
        Town("Brackenfold", away, "BD", 40, 20_031_000_000),
    )


def _street_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with open(DATA / "street_stems.csv", newline="", encoding="utf-8") as f:
        stems = np.array([r["stem"] for r in csv.DictReader(f)], dtype=object)
    with open(DATA / "street_suffixes.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    suffix = np.array([r["suffix"] for r in rows], dtype=object)
    abbrev = np.array([r["abbreviation"] for r in rows], dtype=object)
    weight = np.array([float(r["weight"]) for r in rows])
    return stems, suffix, abbrev, weight


def _build_town(rng: np.random.Generator, town: Town, target: int, locality_offset: int) -> dict:
    """Lay out `target` dwellings in buildings on streets in the town's localities."""
    # Buildings: most are houses; some are converted houses or blocks split into flats.
    n_build = int(target / 1.25) + 64
    flats = rng.random(n_build) < 0.055
    size = np.where(flats, 2 + np.minimum(rng.poisson(3.5, n_build), 22), 1)
    while size.sum() < target:
        extra = np.ones(max(16, target - int(size.sum())), dtype=int)
        size, flats = np.concatenate([size, extra]), np.concatenate([flats, np.zeros(extra.size, bool)])
    cum = np.cumsum(size)
    n_b = int(np.searchsorted(cum, target) + 1)
    size, flats = size[:n_b].copy(), flats[:n_b]
    size[-1] -= int(cum[n_b - 1] - target)
    flats = flats & (size > 1)
    # Streets: a few to a hundred-odd buildings each.
    street_len = 4 + rng.geometric(1 / 28, size=n_b)
    s_cum = np.cumsum(street_len)
    n_s = int(np.searchsorted(s_cum, n_b) + 1)
    street_len = street_len[:n_s].copy()
    street_len[-1] -= int(s_cum[n_s - 1] - n_b)
    b_street = np.repeat(np.arange(n_s), street_len)
    b_pos = np.arange(n_b) - np.repeat(np.cumsum(street_len) - street_len, street_len)
    # Localities take contiguous runs of streets; names are unique within a locality.
    n_loc = len(town.localities)
    s_loc = (np.arange(n_s) * n_loc) // max(n_s, 1)
    stems, suffix, abbrev, weight = _street_tables()
    combos = stems.size * suffix.size
    p = np.tile(weight, stems.size) / np.tile(weight, stems.size).sum()
    s_combo = np.empty(n_s, dtype=int)
    for loc in range(n_loc):
        idx = np.flatnonzero(s_loc == loc)
        if idx.size > combos:
            raise ValueError("too many streets in one locality for the street-name table")
        s_combo[idx] = rng.choice(combos, size=idx.size, replace=False, p=p)
    s_name = stems[s_combo // suffix.size] + " " + suffix[s_combo % suffix.size]
    s_abbrev = abbrev[s_combo % suffix.size]
    # House numbers run along the street; half the streets skip number 13.
    skip13 = rng.random(n_s) < 0.5
    b_number = b_pos + 1
    b_number = b_number + ((b_number >= 13) & skip13[b_street])
    # Postcodes: about fifteen dwellings each, never splitting a building.
    dw_per_street = np.bincount(b_street, weights=size, minlength=n_s)
    pc_per_street = np.maximum(1, np.rint(dw_per_street / rng.uniform(11, 19, n_s))).astype(int)
    b_pc_local = (b_pos * pc_per_street[b_street]) // street_len[b_street]
    pc_offset = np.cumsum(pc_per_street) - pc_per_street
    b_pc = pc_offset[b_street] + b_pc_local
    n_pc = int(pc_per_street.sum())
    pc_street = np.repeat(np.arange(n_s), pc_per_street)
    pc_loc = s_loc[pc_street]
    # Districts: each locality gets its own district(s), in order.
    per_loc = np.bincount(pc_loc, minlength=n_loc)
    d_per_loc = np.maximum(1, -(-per_loc // (_PER_DISTRICT // 2)))
    d_first = town.first_district + np.cumsum(d_per_loc) - d_per_loc
    if int(d_first[-1] + d_per_loc[-1]) > 99:
        raise ValueError("population too large for the invented postcode districts")
    pc_rank = np.arange(n_pc) - np.repeat(np.cumsum(per_loc) - per_loc, per_loc)
    pc_district = d_first[pc_loc] + pc_rank // (_PER_DISTRICT // 2)
    within = pc_rank % (_PER_DISTRICT // 2)
    unit_perm = rng.permutation(UNIT_CODES.size)
    sector = within % 10
    unit = UNIT_CODES[unit_perm[((within // 10) * 7 + pc_district) % UNIT_CODES.size]]
    postcodes = (
        pd.Series(town.area + pc_district.astype(str)) + " " + pd.Series(sector.astype(str)) + pd.Series(unit)
    ).to_numpy(dtype=object)
    # Expand buildings to dwellings.
    d_build = np.repeat(np.arange(n_b), size)
    d_in_b = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)
    lettered = (rng.random(n_b) < 0.35) & (size <= 4)
    flat_no = (d_in_b + 1).astype(str).astype(object)
    flat_letter = np.array(list("ABCD"), dtype=object)[np.minimum(d_in_b, 3)]
    flat_label = np.where(lettered[d_build], flat_letter, flat_no)
    flat = np.where(flats[d_build], "Flat " + flat_label.astype(str), "").astype(object)
    street_i = b_street[d_build]
    uprn = town.uprn_base + np.cumsum(rng.integers(1, 40, size=d_build.size))
    return {
        "uprn": uprn.astype("int64"),
        "flat": flat,
        "number": b_number[d_build],
        "street": s_name[street_i],
        "suffix_abbrev": s_abbrev[street_i],
        "locality": np.array(town.localities, dtype=object)[s_loc[street_i]],
        "town": np.full(d_build.size, town.name, dtype=object),
        "postcode": postcodes[b_pc[d_build]],
        "locality_id": s_loc[street_i] + locality_offset,
        "building": d_build,
    }


def build_dwellings(rng: np.random.Generator, in_area: int, external: int) -> Dwellings:
    """The authority's dwellings followed by the neighbouring town's (for previous addresses)."""
    home, away = load_towns()
    a = _build_town(rng, home, in_area, 0)
    b = _build_town(rng, away, max(external, 50), len(home.localities))
    b["building"] = b["building"] + int(a["building"].max()) + 1
    cols = {k: np.concatenate([a[k], b[k]]) for k in a}
    number = cols["number"].astype(str).astype(object)
    street_line = (number + " " + cols["street"]).astype(object)
    full_line = np.where(cols["flat"] != "", cols["flat"] + ", " + street_line, street_line).astype(object)
    return Dwellings(
        in_area=np.concatenate([np.ones(a["uprn"].size, bool), np.zeros(b["uprn"].size, bool)]),
        street_line=street_line,
        full_line=full_line,
        **cols,
    )


def all_localities() -> tuple[str, ...]:
    home, away = load_towns()
    return home.localities + away.localities


def authority_dwellings(households: int, seed: int, vacancy: float) -> Dwellings:
    """The gazetteer of an authority of `households` households: enough dwellings for them with
    `vacancy` of them empty, and the neighbouring town's. The same arguments give the same gazetteer,
    so a later month (`synth.months`) finds month 1's dwellings again."""
    from synth.randomness import stage_rng

    return build_dwellings(stage_rng(seed, "dwellings"), in_area=math.ceil(households / (1 - vacancy)) + 1,
                           external=max(200, households // 10))
