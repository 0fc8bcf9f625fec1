"""Which first names can stand for one another: nicknames, diminutives, short forms.

The English table is the ``nicknames`` package (a hand-curated, maintained list of
given names and their nicknames). It is English only and has a few gaps, so
:data:`SUPPLEMENT` adds common diminutives from other languages (German, Dutch,
Spanish, Italian, Russian, Scandinavian, French) in the same shape: a formal name,
then the short forms people use for it.

Two first names are *related* when they share a root: a name's roots are the name
itself plus every formal name it is a nickname of. ``Bob`` and ``Rob`` share
``robert``; ``Alex`` and ``Alexander`` share ``alexander``; ``Patricia`` and
``Patrick`` share nothing (but ``Pat`` is related to both).
"""

from __future__ import annotations

from functools import lru_cache

from nicknames import name_triplets

# formal name: short forms (folded, lower-case ASCII; see matching_normalise.fold)
SUPPLEMENT: tuple[str, ...] = (
    # English gaps
    "katherine: kate katie kathy kat",
    "catherine: kate katie cathy cat",
    "kathryn: kate katie kathy",
    "barbara: barb babs",
    "alexandra: sandra sasha lexi",
    "alexander: sasha sascha",
    "christopher: kit",
    "theodore: theo",
    # German
    "johannes: hans hannes jan",
    "johanna: hanna hanne jo",
    "katharina: kathi kati katja trina",
    "franziska: franzi",
    "wolfgang: wolf wolfi",
    "matthias: matze matthi",
    "andreas: andi",
    "sebastian: basti",
    "tobias: tobi",
    "florian: flo",
    "christian: chris",
    "stefanie: steffi",
    "elisabeth: lisa liesl sissi elsbeth",
    "margarete: grete gretchen",
    "jurgen: jogi",
    "michael: michi",
    # Dutch
    "willem: wim",
    "hendrik: henk",
    "cornelis: kees",
    "jacobus: koos",
    "maarten: maart",
    # Spanish
    "francisco: paco curro pancho quico",
    "jose: pepe",
    "guillermo: memo",
    "alejandro: alex jandro",
    "alejandra: ale",
    "dolores: lola",
    "concepcion: concha",
    "enrique: quique",
    "ignacio: nacho",
    "manuel: manolo manu",
    "rosario: charo",
    "mercedes: merche",
    # Italian, Portuguese
    "giuseppe: beppe peppe pino",
    "giovanni: gianni",
    "francesco: cecco checco",
    "joao: joca",
    # Russian, Polish
    "aleksandr: sasha sascha",
    "aleksandra: sasha",
    "dmitri: dima",
    "dmitry: dima",
    "sergei: seryozha",
    "vladimir: vova volodya",
    "mikhail: misha",
    "ekaterina: katya",
    "natalya: natasha",
    "svetlana: sveta",
    "olga: olya",
    # Scandinavian
    "kristina: stina kicki",
    "christina: stina",
    "margareta: maggan",
    # French
    "francois: franck",
    "dominique: dom",
)


def _supplement_pairs() -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for line in SUPPLEMENT:
        formal, _, shorts = line.partition(":")
        pairs.extend((formal.strip(), short) for short in shorts.split())
    return pairs


@lru_cache(maxsize=1)
def _formal_names_of() -> dict[str, frozenset[str]]:
    """short form -> the formal names it stands for."""
    table: dict[str, set[str]] = {}
    pairs = [(t.name1, t.name2) for t in name_triplets() if t.relationship == "has_nickname"]
    for formal, short in [*pairs, *_supplement_pairs()]:
        formal_key, short_key = _compact(formal), _compact(short)
        if formal_key and short_key and formal_key != short_key:
            table.setdefault(short_key, set()).add(formal_key)
    return {short: frozenset(formals) for short, formals in table.items()}


def _compact(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@lru_cache(maxsize=65536)
def name_roots(name: str) -> frozenset[str]:
    """The name itself and every formal name it can stand for (``name`` already folded)."""
    if not name:
        return frozenset()
    return frozenset({name}) | _formal_names_of().get(name, frozenset())


def related(first: str, second: str) -> bool:
    """Whether two (folded) first names can name one person through a nickname."""
    return bool(name_roots(first) & name_roots(second))
