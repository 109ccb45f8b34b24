"""Turn true people and dwellings into an agency's columns, through that agency's noise profile.

The sources decide *who* appears and *where* (including stale addresses); this module decides
*how the agency writes it down*. It also reports, per row, which hard cases it introduced
(nickname, other spelling, birth surname, swapped day and month), for the truth files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth import corrupt, dates
from synth.addresses import Dwellings
from synth.corrupt import Profile
from synth.names import GROUP_INDEX, load_tables
from synth.population import Population

# Columns of per-person uniforms drawn once per source (see Renderer.u).
_U_UPPER, _U_LOWER, _U_ACCENT, _U_PUNCT, _U_VARIANT, _U_NICK, _U_BIRTH, _U_SWAP, _U_PICK = range(9)


class Renderer:
    """Renders names, dates of birth, sex and addresses for one source."""

    def __init__(self, pop: Population, dw: Dwellings, rng: np.random.Generator, profile: Profile) -> None:
        self.pop, self.dw, self.rng, self.p = pop, dw, rng, profile
        self.u = rng.random((pop.n_people, 9), dtype=np.float32)
        self.flags: dict[str, np.ndarray] = {}

    # -- names ---------------------------------------------------------------------------
    def _flag(self, kind: str, mask: np.ndarray) -> None:
        self.flags[kind] = self.flags[kind] | mask if kind in self.flags else mask.copy()

    def case_masks(self, pidx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        up = self.u[pidx, _U_UPPER] < self.p.upper
        lo = ~up & (self.u[pidx, _U_LOWER] < self.p.lower)
        return up, lo

    def _spelling(
        self, base: np.ndarray, pidx: np.ndarray, rate: float, table: dict, ucol: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Swap base names for a per-person choice from `table` (variants or nicknames).

        Other spellings come from transliteration, so they are used only for names from
        non-British naming traditions (a British Alexander is not written Aleksandr).
        """
        if rate <= 0 or base.size == 0:
            return base, np.zeros(base.size, dtype=bool)
        has = pd.Series(base, dtype=object).isin(list(table)).to_numpy()
        if ucol == _U_VARIANT:
            has &= self.pop.group[pidx] != GROUP_INDEX["WB"]
        use = has & (self.u[pidx, ucol] < rate)
        pick = self.u[pidx, _U_PICK]
        out = corrupt.apply_where(base, use, lambda v, r: table[v][int(r * len(table[v])) % len(table[v])], pick)
        return out, use & (out != base)

    def text_noise(self, values: np.ndarray, pidx: np.ndarray, typo_rate: float | None = None) -> np.ndarray:
        """Accents, punctuation, typos, double spaces and case, in that order."""
        p = self.p
        n = values.size
        out = values.astype(object)
        if p.strip_accents > 0:
            m = self.u[pidx, _U_ACCENT] < p.strip_accents
            if m.any():
                out[m] = corrupt.map_unique(out[m], corrupt.strip_accent)
        if p.strip_punct > 0:
            m = (self.u[pidx, _U_PUNCT] < p.strip_punct) & pd.Series(out, dtype=object).str.contains(
                "['-]", regex=True
            ).to_numpy()
            out = corrupt.apply_where(out, m, corrupt.strip_punct, self.u[pidx, _U_PICK])
        rate = p.typo if typo_rate is None else typo_rate
        if rate > 0:
            r = self.rng.random(n)
            m = (r < rate) & (out != "")
            out = corrupt.apply_where(out, m, corrupt.typo, r / max(rate, 1e-12))
            if m.any():
                self._flag("typo", m)
        if p.double_space > 0:
            r = self.rng.random(n)
            out = corrupt.apply_where(out, (r < p.double_space) & (out != ""), corrupt.double_space, r / p.double_space)
        up, lo = self.case_masks(pidx)
        return corrupt.lower(corrupt.upper(out, up), lo)

    def forenames(self, pidx: np.ndarray, nickname: float | None = None, titles: bool = True) -> np.ndarray:
        """The forename as this agency holds it (variant spelling, nickname, title, noise)."""
        t = load_tables()
        base = self.pop.forename[pidx]
        out, var = self._spelling(base, pidx, self.p.variant, t.variants, _U_VARIANT)
        rate = self.p.nickname if nickname is None else nickname
        out, nick = self._spelling(out, pidx, rate, t.nicknames, _U_NICK)
        self._flag("transliteration", var)
        self._flag("nickname", nick)
        out = self.text_noise(out, pidx)
        if titles and self.p.title > 0:
            adult = self.pop.age_now[pidx] >= 18
            m = adult & (self.rng.random(pidx.size) < self.p.title)
            if m.any():
                sex = self.pop.sex[pidx]
                married = self.pop.surname[pidx] != self.pop.birth_surname[pidx]
                r = self.rng.random(pidx.size)
                title = np.where(
                    sex == "M",
                    np.where(r < 0.04, "DR", "MR"),
                    np.where(married, "MRS", np.where(r < 0.5, "MS", "MISS")),
                )
                up, _ = self.case_masks(pidx)
                title = np.where(up, title, pd.Series(title).str.title().to_numpy())
                out = out.copy()
                out[m] = (pd.Series(title[m], dtype=object) + " " + pd.Series(out[m], dtype=object)).to_numpy(
                    dtype=object
                )
                self._flag("title", m)
        return out

    def surnames(self, pidx: np.ndarray) -> np.ndarray:
        """The surname as held: sometimes the birth surname of a married woman, noise applied."""
        base = self.pop.surname[pidx]
        birth = self.pop.birth_surname[pidx]
        use = (birth != base) & (self.u[pidx, _U_BIRTH] < self.p.birth_surname) & (self.pop.sex[pidx] == "F")
        out = np.where(use, birth, base).astype(object)
        self._flag("birth_surname", use)
        t = load_tables()
        out2, var = self._spelling(out, pidx, self.p.variant, t.variants, _U_VARIANT)
        self._flag("transliteration", var)
        return self.text_noise(out2, pidx)

    def middle_names(self, pidx: np.ndarray) -> np.ndarray:
        return self.text_noise(self.pop.middle_names[pidx], pidx, typo_rate=0.0)

    # -- dates and sex -------------------------------------------------------------------------
    def dob(self, pidx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(day numbers, blank mask): some days and months swapped, some left blank."""
        d = self.pop.dob[pidx]
        _, m, day = dates.ymd(d)
        swap = (self.u[pidx, _U_SWAP] < self.p.dob_swap) & (day <= 12) & (day != m)
        d = np.where(swap, dates.swap_day_month(d), d)
        self._flag("dob_day_month_swap", swap)
        blank = self.rng.random(pidx.size) < self.p.dob_blank
        self._flag("missing_dob", blank)
        return d, blank

    def sex(self, pidx: np.ndarray) -> np.ndarray:
        s = self.pop.sex[pidx].copy()
        if self.p.sex_unknown > 0:
            s[self.rng.random(pidx.size) < self.p.sex_unknown] = "U"
        return s

    # -- addresses -----------------------------------------------------------------------------
    def _street_lines(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(street line, full line) for dwellings d, with some street suffixes abbreviated."""
        street = self.dw.street_line[d]
        full = self.dw.full_line[d]
        if self.p.street_abbrev > 0:
            m = self.rng.random(d.size) < self.p.street_abbrev
            if m.any():
                street = corrupt.apply_where(street, m, corrupt.abbreviate_street, self.dw.suffix_abbrev[d])
                flat = self.dw.flat[d]
                full = full.copy()
                full[m] = np.where(flat[m] != "", flat[m] + ", " + street[m], street[m])
        return street, full

    def _finish(self, cols: dict[str, np.ndarray], pidx: np.ndarray) -> dict[str, np.ndarray]:
        up, _ = self.case_masks(pidx)
        r = self.rng.random(pidx.size)
        for k, v in cols.items():
            v = corrupt.upper(v, up)
            if self.p.double_space > 0:
                v = corrupt.apply_where(v, (r < self.p.double_space) & (v != ""), corrupt.double_space, r)
            cols[k] = v
        return cols

    def postcode(self, d: np.ndarray) -> np.ndarray:
        pc = self.dw.postcode[d].copy()
        r = self.rng.random(d.size)
        p = self.p
        m = r < p.postcode_nospace
        pc = corrupt.apply_where(pc, m, lambda s: s.replace(" ", ""))
        pc = corrupt.lower(pc, (r >= p.postcode_nospace) & (r < p.postcode_nospace + p.postcode_lower))
        blank = self.rng.random(d.size) < p.postcode_blank
        pc[blank] = ""
        return pc

    def uprn(self, d: np.ndarray) -> np.ndarray:
        u = self.dw.uprn[d].astype(str).astype(object)
        u[self.rng.random(d.size) < self.p.uprn_blank] = ""
        return u

    def address_lines(self, d: np.ndarray, pidx: np.ndarray, n_lines: int) -> dict[str, np.ndarray]:
        """address_line_1..n: flat and street on one line or (some systems) on two."""
        street, full = self._street_lines(d)
        flat, loc, town = self.dw.flat[d], self.dw.locality[d], self.dw.town[d]
        split = (flat != "") & ((self.rng.random(d.size) < self.p.address_split) | (n_lines == 4))
        empty = np.full(d.size, "", dtype=object)
        if n_lines == 2:
            lines = [full, loc]
        elif n_lines == 3:
            lines = [np.where(split, flat, full), np.where(split, street, loc), np.where(split, loc, town)]
        elif n_lines == 4:
            lines = [
                np.where(split, flat, full),
                np.where(split, street, loc),
                np.where(split, loc, town),
                np.where(split, town, empty),
            ]
        else:
            raise ValueError(n_lines)
        cols = {f"address_line_{i + 1}": np.asarray(v, dtype=object) for i, v in enumerate(lines)}
        return self._finish(cols, pidx)

    def address_single(self, d: np.ndarray, pidx: np.ndarray) -> np.ndarray:
        """One free-text line, as police systems keep it: 'FLAT 3, 12 ACORN ROAD, ASHGATE'."""
        _, full = self._street_lines(d)
        line = (pd.Series(full, dtype=object) + ", " + pd.Series(self.dw.locality[d], dtype=object)).to_numpy(
            dtype=object
        )
        return self._finish({"a": line}, pidx)["a"]
