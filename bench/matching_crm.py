"""A CRM-style generator of our own (seeded; not the sandbox's generator), with the damage
real exports carry.

People work at companies (colleagues share the company's address, main line and
``info@`` mailbox) and live in households (same surname, home address and landline,
different first names). Each person is exported by one to three CRMs, sometimes twice by
the same one. Each exported row may then be damaged, with a probability per kind of
damage that the variant sets:

* a value in the wrong column (the phone in the email column, the email in a phone one);
* phone extensions (``x204``, ``ext. 12``) and an extra or missing digit;
* email typos (a doubled or swapped letter, ``gmial.com``) and masked emails (``j***@x.com``);
* look-alike letters from other alphabets (Cyrillic a, e, o, p, c; Greek omicron, alpha) and
  zero-width characters in names and emails;
* a missing first name, a nickname (Bob for Robert), first and last name swapped;
* the shared mailbox (``info@company``) instead of the person's own email.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

from matching_data import ORIGIN_CRM, Labelled

FIRST_NAMES = {
    "Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Katherine": "Kate",
    "Michael": "Mike", "Jennifer": "Jen", "Richard": "Rick", "Margaret": "Maggie",
    "James": "Jim", "Patricia": "Pat", "Thomas": "Tom", "Susan": "Sue", "Daniel": "Dan",
    "Jessica": "Jess", "Christopher": "Chris", "Samantha": "Sam", "Anthony": "Tony",
    "Victoria": "Vicky", "Joseph": "Joe", "Rebecca": "Becky", "Alexander": "Alex",
    "Deborah": "Debbie", "Benjamin": "Ben", "Nicholas": "Nick", "Jonathan": "Jon",
    "Matthew": "Matt", "Andrew": "Andy", "Edward": "Ed", "Frederick": "Fred",
    "Gregory": "Greg", "Olivia": "Liv", "Abigail": "Abby", "Theodore": "Ted",
    "Maria": "", "Sofia": "", "Lucas": "", "Mia": "", "Noah": "", "Emma": "", "Liam": "",
    "Aisha": "", "Chen": "", "Priya": "", "Omar": "", "Yuki": "", "Lars": "", "Ingrid": "",
    "Pierre": "", "Anna": "", "Ivan": "", "Fatima": "", "Diego": "", "Grace": "",
}  # fmt: skip
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
    "Roberts", "Kowalski", "Novak", "Schmidt", "Muller", "Rossi", "Dubois", "Jensen",
    "Larsen", "Ivanova", "Petrov", "Tanaka", "Sato", "Kim", "Park", "Chen", "Wang", "Singh",
    "Patel", "Khan", "Cohen", "Murphy", "O'Brien", "Kelly", "Sullivan", "Fischer", "Weber",
    "Becker", "Hoffmann", "Bauer", "Richter", "Klein", "Wolf", "Neumann", "Schwarz",
    "Zimmermann", "Braun", "Hartmann",
]  # fmt: skip
COMPANY_WORDS = [
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
    "Soylent", "Cyberdyne", "Tyrell", "Wonka", "Oscorp", "Aperture", "Gringotts", "Monarch",
    "Pied", "Piper", "Dunder", "Sterling", "Massive", "Nakatomi",
]  # fmt: skip
COMPANY_KINDS = ["Inc.", "LLC", "Group", "Partners", "Labs", "Logistics", "Health"]
STREETS = ["Maple St", "Oak Ave", "Pine Rd", "Cedar Ln", "Elm St", "Main St", "Park Ave",
           "Lake Dr", "Hill Rd", "River Rd", "Sunset Blvd", "Washington St"]  # fmt: skip
CITIES = [("Atlanta", "303"), ("Boston", "021"), ("Denver", "802"), ("Austin", "787"),
          ("Seattle", "981"), ("Chicago", "606")]  # fmt: skip
AREA_CODES = ["404", "617", "303", "512", "206", "312", "470", "720"]
FREE_MAIL = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me"]
# Latin letter -> its look-alike: Cyrillic a, ie, o, er, es, ha, i; Greek omicron, alpha, nu.
LOOKALIKES = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441",
              "x": "\u0445", "i": "\u0456"}  # fmt: skip
GREEK = {"o": "\u03bf", "a": "\u03b1", "v": "\u03bd"}
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\ufeff"]
DOMAIN_TYPOS = {"gmail.com": "gmial.com", "yahoo.com": "yaho.com", "outlook.com": "outlok.com"}

CRM_COLUMNS = ["First Name", "Last Name", "Email", "Phone", "Mobile", "Company", "Title",
               "Street", "City", "Zip"]  # fmt: skip
CRM_MAP = [
    ("First Name", "first_name"), ("Last Name", "last_name"), ("Email", "email"),
    ("Phone", "phone"), ("Mobile", "phone"), ("Company", "organization"),
    ("Title", "job_title"), ("Street", "street"), ("City", "city"), ("Zip", "postal_code"),
]  # fmt: skip
TITLES = ["Manager", "Engineer", "Director", "Analyst", "Sales Rep", "CFO", "Consultant"]


@cache
def name_pools() -> tuple[list[str], list[str]]:
    """First and last names: the ones above, and every name written the same way at
    least three times in pseudopeople's sample census (thousands of surnames, so that
    namesakes are as rare as in a real customer base). Without pseudopeople, the above."""
    given, family = sorted(FIRST_NAMES), list(LAST_NAMES)
    try:
        from matching_sets import census_names
    except ImportError:
        return given, family
    more_given, more_family = census_names(3)
    given += sorted(set(more_given) - set(given))
    family += sorted(set(more_family) - set(family))
    return given, family


@dataclass
class _Company:
    name: str
    domain: str
    street: str
    city: str
    postal: str
    main_line: str


@dataclass
class _Person:
    key: str
    first: str
    last: str
    email: str
    mobile: str
    landline: str
    extension: str  # the person's extension on the company's main line
    company: _Company | None
    title: str
    street: str
    city: str
    postal: str


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def phone(self) -> str:
        r = self.rng
        return f"({r.choice(AREA_CODES)}) {r.randint(200, 989)}-{r.randint(0, 9999):04d}"

    def address(self) -> tuple[str, str, str]:
        city, prefix = self.rng.choice(CITIES)
        street = f"{self.rng.randint(1, 9800)} {self.rng.choice(STREETS)}"
        return street, city, f"{prefix}{self.rng.randint(10, 99)}"

    def company(self, number: int) -> _Company:
        word = self.rng.choice(COMPANY_WORDS)
        name = f"{word} {self.rng.choice(COMPANY_KINDS)} {number}"
        domain = f"{word.lower()}{number}.com"
        street, city, postal = self.address()
        return _Company(name, domain, street, city, postal, self.phone())

    def people(self, count: int) -> list[_Person]:
        r = self.rng
        given, family = name_pools()
        companies = [self.company(n) for n in range(max(1, count // 12))]
        people: list[_Person] = []
        while len(people) < count:
            last = r.choice(family)
            street, city, postal = self.address()
            landline = self.phone()
            size = r.choices([1, 2, 3, 4], weights=[5, 3, 2, 1])[0]  # a household
            firsts = r.sample(given, size)
            for first in firsts:
                company = r.choice(companies) if r.random() < 0.75 else None
                if company is not None and r.random() < 0.6:
                    email = f"{first[0].lower()}{last.lower()}@{company.domain}"
                else:
                    sep = r.choice([".", "_", ""])
                    email = f"{first.lower()}{sep}{last.lower()}{r.randint(1, 99)}@" + r.choice(
                        FREE_MAIL
                    )
                people.append(
                    _Person(
                        f"p{len(people)}", first, last, email.replace("'", ""), self.phone(),
                        landline, str(r.randint(100, 899)), company, r.choice(TITLES), street,
                        city, postal,
                    )
                )  # fmt: skip
        return people[:count]

    # --- damage -----------------------------------------------------------------------

    def lookalike(self, text: str) -> str:
        table = LOOKALIKES if self.rng.random() < 0.7 else GREEK
        spots = [i for i, ch in enumerate(text) if ch.lower() in table]
        if not spots:
            return text
        i = self.rng.choice(spots)
        return text[:i] + table[text[i].lower()] + text[i + 1 :]

    def zero_width(self, text: str) -> str:
        if len(text) < 2:
            return text
        i = self.rng.randint(1, len(text) - 1)
        return text[:i] + self.rng.choice(ZERO_WIDTH) + text[i:]

    def email_typo(self, email: str) -> str:
        local, _, domain = email.partition("@")
        if domain in DOMAIN_TYPOS and self.rng.random() < 0.4:
            return f"{local}@{DOMAIN_TYPOS[domain]}"
        if len(local) > 3:
            i = self.rng.randint(1, len(local) - 2)
            if self.rng.random() < 0.5:
                local = local[:i] + local[i + 1] + local[i] + local[i + 2 :]
            else:
                local = local[:i] + local[i] + local[i:]
        return f"{local}@{domain}"

    def phone_damage(self, phone: str) -> str:
        r = self.rng.random()
        if r < 0.4:
            return phone + self.rng.choice([f" x{self.rng.randint(10, 999)}", " ext. 12"])
        if r < 0.7:
            return phone + str(self.rng.randint(0, 9))  # an extra digit
        return phone[:-1]  # a digit missing


def _work_phone(r: random.Random, person: _Person) -> str:
    """The main line with the person's extension; sometimes only the main line (shared
    by every colleague), or the household's landline."""
    company, draw = person.company, r.random()
    if company is None or draw < 0.3:
        return person.landline
    if draw < 0.85:
        return f"{company.main_line} x{person.extension}"
    return company.main_line


def _export(g: _Generator, person: _Person, rate: float) -> dict[str, str]:
    r = g.rng
    company = person.company
    row = {
        "First Name": person.first,
        "Last Name": person.last,
        "Email": person.email,
        "Phone": _work_phone(r, person),
        "Mobile": person.mobile if r.random() < 0.8 else "",
        "Company": company.name if company else "",
        "Title": person.title if company else "",
        "Street": company.street if company and r.random() < 0.5 else person.street,
        "City": "",
        "Zip": "",
    }
    street = row["Street"]
    if company and street == company.street:
        row["City"], row["Zip"] = company.city, company.postal
    else:
        row["City"], row["Zip"] = person.city, person.postal
    for column in ("Phone", "Street", "Company", "Title"):  # exports hold what they hold
        if r.random() < 0.2:
            row[column] = ""
    if r.random() < rate and FIRST_NAMES.get(person.first):
        row["First Name"] = FIRST_NAMES[person.first]
    if r.random() < rate * 0.5:
        row["First Name"], row["Last Name"] = row["Last Name"], row["First Name"]
    if r.random() < rate * 0.5:
        row["First Name"] = ""
    if company and r.random() < rate * 0.5:
        row["Email"] = f"info@{company.domain}"
    elif r.random() < rate:
        row["Email"] = g.email_typo(row["Email"])
    elif r.random() < rate * 0.5:
        local, _, domain = row["Email"].partition("@")
        row["Email"] = f"{local[0]}***@{domain}"
    for column in ("Phone", "Mobile"):
        if row[column] and r.random() < rate:
            row[column] = g.phone_damage(row[column])
    if r.random() < rate:
        column = r.choice(["First Name", "Last Name", "Email"])
        row[column] = g.lookalike(row[column])
    if r.random() < rate * 0.5:
        column = r.choice(["First Name", "Last Name", "Email"])
        row[column] = g.zero_width(row[column])
    if r.random() < rate * 0.5 and row["Mobile"]:  # the phone in the email column
        row["Email"], row["Mobile"] = row["Mobile"], ""
    elif r.random() < rate * 0.3 and row["Email"]:  # the email in a phone column
        row["Phone"], row["Email"] = row["Email"], ""
    return row


def crm_set(people: int, rate: float, seed: int, label: str) -> Labelled:
    """Exports of ``people`` persons, each kind of damage at ``rate`` (per row)."""
    g = _Generator(seed)
    data = Labelled(f"CRM exports, {label}", ORIGIN_CRM, CRM_COLUMNS, list(CRM_MAP))
    rows: list[tuple[dict[str, str], str]] = []
    for person in g.people(people):
        copies = g.rng.choices([1, 2, 3], weights=[3, 4, 2])[0]
        if g.rng.random() < rate:
            copies += 1  # a duplicate within one export
        rows += [(_export(g, person, rate), person.key) for _ in range(copies)]
    g.rng.shuffle(rows)
    for values, truth in rows:
        data.add(values, truth)
    return data
