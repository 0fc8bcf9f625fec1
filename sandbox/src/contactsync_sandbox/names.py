"""Word lists for the sandbox's fake people: names, nicknames, cities, streets, companies.

Shipped here rather than taken from Faker so that a seed gives the same people
forever, whatever library version is installed. Multi-word entries are written
with ``_`` for the space (``de_Jong``). Phone numbers use fictional ranges where
a country has them (``555`` in North America, ``5550`` in Australia, ``7700 9`` for
British mobiles).
"""

from __future__ import annotations

from dataclasses import dataclass


def _words(text: str) -> tuple[str, ...]:
    return tuple(word.replace("_", " ") for word in text.split())


@dataclass(frozen=True)
class Culture:
    """A pool of names that go together (a person's first and last names come from one)."""

    female: tuple[str, ...]
    male: tuple[str, ...]
    last: tuple[str, ...]


CULTURES: dict[str, Culture] = {
    "en": Culture(
        _words(
            "Mary Elizabeth Katherine Margaret Jennifer Patricia Susan Deborah Rebecca Victoria "
            "Alexandra Christine Jessica Stephanie Abigail Sarah Emily Hannah Rachel Laura "
            "Amanda Nicole Megan Olivia Emma Charlotte Grace Natalie Samantha Jacqueline "
            "Dorothy Barbara Linda Karen Nancy Helen Judith Caroline Heather Catherine"
        ),
        _words(
            "Robert William James John Michael Richard Thomas Joseph Daniel Matthew Anthony "
            "Christopher Edward Alexander Nicholas Samuel Benjamin Jonathan Andrew Charles "
            "Frederick Theodore Gregory Timothy Steven David Joshua Zachary Kenneth Ronald "
            "Donald Lawrence Gerald Patrick Peter Henry George Brian Kevin Jeffrey"
        ),
        _words(
            "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas "
            "Moore Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen "
            "King Wright Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner "
            "Phillips Campbell Parker Evans Edwards Collins Stewart Morris Murphy Cook Rogers "
            "Morgan Cooper Peterson Reed Bailey Bell Kelly Howard Ward Cox Richardson Wood "
            "Watson Brooks Bennett Gray Hughes Price Sanders Myers Long Ross Foster O'Brien "
            "O'Connor McDonald MacLeod Fitzgerald Sullivan Whitfield Ashworth Pemberton"
        ),
    ),
    "de": Culture(
        _words(
            "Anna Katharina Sophie Lena Johanna Ursula Sabine Petra Claudia Monika Birgit Jana "
            "Franziska Annika Heike Gisela Elke"
        ),
        _words(
            "Thomas Michael Andreas Stefan Markus Jürgen Klaus Wolfgang Matthias Tobias Florian "
            "Lukas Jonas Sebastian Uwe Dieter Johannes"
        ),
        _words(
            "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch "
            "Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann "
            "Hartmann Lange Werner Krause Weiß Köhler"
        ),
    ),
    "nl": Culture(
        _words("Anouk Femke Sanne Lotte Eva Maartje Inge Marieke Fleur Noor Johanna"),
        _words("Jan Pieter Daan Sander Joost Bram Willem Ruben Thijs Maarten Hendrik Johannes"),
        _words(
            "de_Jong Jansen de_Vries van_den_Berg van_Dijk Bakker Visser Smit Meijer de_Boer "
            "Mulder de_Groot Bos Vos Peters Hendriks van_Leeuwen Dekker"
        ),
    ),
    "fr": Culture(
        _words(
            "Camille Chloé Manon Léa Juliette Margaux Élodie Amélie Céline Sophie Isabelle "
            "Nathalie Mathilde Catherine"
        ),
        _words(
            "Julien Nicolas Pierre Antoine François Mathieu Guillaume Olivier Sébastien Laurent "
            "Étienne Hugo Louis Baptiste"
        ),
        _words(
            "Martin Bernard Dubois Durand Lefebvre Leroy Moreau Laurent Simon Michel Garnier "
            "Fontaine Rousseau Girard Lambert Bonnet Faure Mercier Chevalier Blanc"
        ),
    ),
    "es": Culture(
        _words(
            "María Lucía Carmen Ana Laura Marta Elena Sofía Paula Isabel Cristina Raquel Pilar "
            "Dolores"
        ),
        _words(
            "José Antonio Manuel Francisco Javier Carlos Miguel Alejandro Pablo Sergio Diego "
            "Jorge Alberto Fernando Guillermo"
        ),
        _words(
            "García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Martín "
            "Jiménez Ruiz Hernández Díaz Moreno Álvarez Romero Navarro Torres Domínguez Vázquez "
            "Ramos Gil Serrano Castillo"
        ),
    ),
    "sv": Culture(
        _words("Ingrid Astrid Karin Sara Elin Maja Linnea Ebba Frida Sofia Annika Kristina"),
        _words("Erik Lars Anders Johan Per Nils Karl Oskar Gustav Magnus Henrik Björn"),
        _words(
            "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson "
            "Gustafsson Pettersson Jonsson Lindberg Lindqvist Berg Holm Lundgren Sjöberg"
        ),
    ),
    "world": Culture(
        _words(
            "Priya Ananya Aisha Fatima Mei Yuki Sakura Nkechi Amara Olga Natasha Svetlana "
            "Giulia Francesca Beatriz Leilani Zainab Hana Ji-woo Ngoc Aaliyah Chiara"
        ),
        _words(
            "Raj Arjun Vikram Ahmed Omar Mohammed Wei Hiroshi Kenji Kwame Chinedu Tunde Dmitri "
            "Sergei Giuseppe Marco João Rafael Minh Jae-won Aleksandr Mateus"
        ),
        _words(
            "Patel Sharma Singh Gupta Khan Ahmed Hassan Chen Wang Li Zhang Liu Nguyen Tran Kim "
            "Park Lee Tanaka Suzuki Sato Okafor Adeyemi Mensah Ivanov Kowalski Nowak Rossi "
            "Russo Bianchi Ferrari Silva Santos Oliveira Costa Kapoor Haddad Cohen Levi"
        ),
    ),
}

# How often a person living in a country has names from another culture.
FOREIGN_NAME_SHARE = 0.3

# Formal first name -> the nicknames people use for it (first entry is the most common).
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Robert": ("Bob", "Rob", "Bobby"),
    "William": ("Bill", "Will", "Billy"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "John": ("Jack", "Johnny"),
    "Michael": ("Mike", "Mick"),
    "Richard": ("Rick", "Dick", "Rich"),
    "Thomas": ("Tom", "Tommy"),
    "Joseph": ("Joe", "Joey"),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Anthony": ("Tony",),
    "Christopher": ("Chris", "Kit"),
    "Edward": ("Ed", "Ted", "Eddie"),
    "Alexander": ("Alex", "Sasha"),
    "Nicholas": ("Nick", "Nicky"),
    "Samuel": ("Sam",),
    "Benjamin": ("Ben",),
    "Jonathan": ("Jon",),
    "Andrew": ("Andy", "Drew"),
    "Charles": ("Charlie", "Chuck"),
    "Frederick": ("Fred", "Freddie"),
    "Theodore": ("Ted", "Theo"),
    "Gregory": ("Greg",),
    "Timothy": ("Tim",),
    "Steven": ("Steve",),
    "David": ("Dave",),
    "Joshua": ("Josh",),
    "Zachary": ("Zach",),
    "Kenneth": ("Ken", "Kenny"),
    "Ronald": ("Ron",),
    "Donald": ("Don",),
    "Lawrence": ("Larry",),
    "Gerald": ("Gerry",),
    "Patrick": ("Pat", "Paddy"),
    "Peter": ("Pete",),
    "Henry": ("Harry", "Hank"),
    "Elizabeth": ("Liz", "Beth", "Betty", "Eliza"),
    "Katherine": ("Kate", "Kathy", "Katie"),
    "Catherine": ("Cathy", "Kate"),
    "Margaret": ("Maggie", "Peggy", "Meg"),
    "Jennifer": ("Jen", "Jenny"),
    "Patricia": ("Pat", "Patty", "Trish"),
    "Susan": ("Sue", "Susie"),
    "Deborah": ("Deb", "Debbie"),
    "Rebecca": ("Becky", "Becca"),
    "Victoria": ("Vicky", "Tori"),
    "Alexandra": ("Alex", "Sandra"),
    "Christine": ("Chris", "Chrissy"),
    "Jessica": ("Jess",),
    "Stephanie": ("Steph",),
    "Abigail": ("Abby",),
    "Samantha": ("Sam",),
    "Jacqueline": ("Jackie",),
    "Dorothy": ("Dot", "Dottie"),
    "Barbara": ("Barb",),
    "Judith": ("Judy",),
    "Katharina": ("Kathi", "Katja"),
    "Johanna": ("Hanna",),
    "Franziska": ("Franzi",),
    "Wolfgang": ("Wolf",),
    "Johannes": ("Hans", "Jan"),
    "Matthias": ("Matze",),
    "Francisco": ("Paco", "Curro"),
    "José": ("Pepe",),
    "Guillermo": ("Memo",),
    "Alejandro": ("Alex", "Álex"),
    "Dolores": ("Lola",),
    "Giuseppe": ("Beppe",),
    "Aleksandr": ("Sasha",),
    "Kristina": ("Stina",),
}

# A name that has no formal-name entry but is itself a nickname somewhere is left alone.


@dataclass(frozen=True)
class City:
    """A place people live and work, with its phone and postal-code shapes.

    ``landline`` groups: ``#`` is a random digit; ``postal``: ``#`` a digit, ``@`` a letter.
    """

    name: str
    region: str | None
    country: str
    postal: str
    landline: tuple[str, ...]
    language: str
    weight: int


CITIES: tuple[City, ...] = (
    City("Atlanta", "GA", "US", "303##", ("404", "555", "####"), "en", 8),
    City("Boston", "MA", "US", "021##", ("617", "555", "####"), "en", 7),
    City("Chicago", "IL", "US", "606##", ("312", "555", "####"), "en", 8),
    City("Denver", "CO", "US", "802##", ("303", "555", "####"), "en", 5),
    City("Austin", "TX", "US", "787##", ("512", "555", "####"), "en", 6),
    City("Seattle", "WA", "US", "981##", ("206", "555", "####"), "en", 5),
    City("Portland", "OR", "US", "972##", ("503", "555", "####"), "en", 4),
    City("San Diego", "CA", "US", "921##", ("619", "555", "####"), "en", 5),
    City("Minneapolis", "MN", "US", "554##", ("612", "555", "####"), "en", 4),
    City("Raleigh", "NC", "US", "276##", ("919", "555", "####"), "en", 4),
    City("Phoenix", "AZ", "US", "850##", ("602", "555", "####"), "en", 4),
    City("New York", "NY", "US", "100##", ("212", "555", "####"), "en", 8),
    City("Columbus", "OH", "US", "432##", ("614", "555", "####"), "en", 4),
    City("Nashville", "TN", "US", "372##", ("615", "555", "####"), "en", 3),
    City("Toronto", "ON", "CA", "M#@ #@#", ("416", "555", "####"), "en", 4),
    City("Vancouver", "BC", "CA", "V#@ #@#", ("604", "555", "####"), "en", 2),
    City("Montréal", "QC", "CA", "H#@ #@#", ("514", "555", "####"), "fr", 2),
    City("London", None, "GB", "SE# #@@", ("20", "7946", "####"), "en", 4),
    City("Manchester", None, "GB", "M## #@@", ("161", "496", "####"), "en", 2),
    City("Berlin", "BE", "DE", "10###", ("30", "#######"), "de", 2),
    City("München", "BY", "DE", "80###", ("89", "#######"), "de", 2),
    City("Amsterdam", "NH", "NL", "10## @@", ("20", "###", "####"), "nl", 2),
    City("Utrecht", "UT", "NL", "35## @@", ("30", "###", "####"), "nl", 1),
    City("Paris", None, "FR", "750##", ("1", "##", "##", "##", "##"), "fr", 2),
    City("Lyon", None, "FR", "6900#", ("4", "##", "##", "##", "##"), "fr", 1),
    City("Sydney", "NSW", "AU", "2###", ("2", "5550", "####"), "en", 2),
    City("Melbourne", "VIC", "AU", "3###", ("3", "5550", "####"), "en", 1),
    City("Madrid", None, "ES", "280##", ("91", "###", "##", "##"), "es", 2),
    City("Barcelona", None, "ES", "080##", ("93", "###", "##", "##"), "es", 1),
    City("Stockholm", None, "SE", "1## ##", ("8", "###", "###", "##"), "sv", 1),
)

# Country -> (international dialling code, mobile number groups).
COUNTRY_PHONES: dict[str, tuple[str, tuple[str, ...]]] = {
    "US": ("1", ()),  # mobiles use the city's area code
    "CA": ("1", ()),
    "GB": ("44", ("7700", "9#####")),
    "DE": ("49", ("151", "########")),
    "NL": ("31", ("6", "########")),
    "FR": ("33", ("6", "##", "##", "##", "##")),
    "AU": ("61", ("4##", "###", "###")),
    "ES": ("34", ("6##", "###", "###")),
    "SE": ("46", ("70", "###", "##", "##")),
}

# Streets: countries writing the house number first, and each country's street names.
NUMBER_FIRST = frozenset({"US", "CA", "GB", "AU", "FR"})
_EN_STREETS = _words(
    "Maple Oak Cedar Pine Elm Willow Lake Hill Park Church Mill River Sunset Washington "
    "Highland Meadow Forest Spring Cherry Walnut Franklin Lincoln"
)
STREET_TYPES: dict[str, tuple[str, ...]] = {
    "US": _words("Street Avenue Road Lane Drive Court Boulevard Way Place"),
    "CA": _words("Street Avenue Road Drive Crescent"),
    "AU": _words("Street Road Avenue Parade Lane"),
    "GB": _words("Road Street Lane Close Gardens Crescent"),
}
STREET_ABBREVIATIONS: dict[str, str] = {
    "Street": "St.",
    "Avenue": "Ave",
    "Road": "Rd",
    "Lane": "Ln",
    "Drive": "Dr.",
    "Court": "Ct",
    "Boulevard": "Blvd",
    "Crescent": "Cres.",
    "straße": "str.",
}
STREETS: dict[str, tuple[str, ...]] = {
    "US": _EN_STREETS,
    "CA": _EN_STREETS,
    "AU": _EN_STREETS,
    "GB": _EN_STREETS,
    "DE": _words(
        "Hauptstraße Bahnhofstraße Gartenweg Schillerstraße Goethestraße Lindenallee "
        "Bergstraße Kirchweg Friedrichstraße Rosenweg"
    ),
    "NL": _words(
        "Keizersgracht Prinsengracht Kerkstraat Dorpsstraat Stationsweg Molenweg Schoolstraat "
        "Julianalaan"
    ),
    "FR": _words(
        "rue_de_la_Paix rue_Victor_Hugo avenue_Jean_Jaurès boulevard_Voltaire rue_du_Moulin "
        "rue_de_l'Église place_de_la_République"
    ),
    "ES": _words(
        "Calle_Mayor Calle_de_Alcalá Avenida_de_la_Constitución Calle_del_Sol Paseo_de_Gracia "
        "Calle_Real"
    ),
    "SE": _words("Drottninggatan Storgatan Kungsgatan Skolgatan Kyrkogatan Sveavägen"),
}
UNIT_PREFIXES = _words("Apt Suite Unit Floor")

COMPANY_STEMS = _words(
    "Northwind Blue_Harbor Summit Cedar_Ridge Granite Lakeside Pioneer Silverline Brightpath "
    "Redwood Ironbridge Harborview Keystone Evergreen Copperfield Westgate Starling Oakmont "
    "Riverbend Highland Meridian Clearwater Falcon Juniper Atlas Beacon Crescent Horizon "
    "Maple_Leaf Sterling"
)
COMPANY_TRADES = _words(
    "Logistics Insurance Consulting Health Manufacturing Legal Analytics Foods Energy Software "
    "Realty Engineering Dental Freight Capital Media Labs Outfitters"
)
COMPANY_EXTRAS = _words(
    "Group Holdings Partners International Services Solutions Systems Network Associates Works"
)
LEGAL_FORMS: dict[str, tuple[str, ...]] = {
    "US": ("Inc.", "LLC", "Corp.", ""),
    "CA": ("Inc.", "Ltd.", ""),
    "GB": ("Ltd", "PLC", ""),
    "DE": ("GmbH", "AG"),
    "NL": ("B.V.",),
    "FR": ("SAS", "SARL"),
    "AU": ("Pty Ltd",),
    "ES": ("S.L.", "S.A."),
    "SE": ("AB",),
}
COUNTRY_TLDS: dict[str, str] = {
    "US": "com",
    "CA": "ca",
    "GB": "co.uk",
    "DE": "de",
    "NL": "nl",
    "FR": "fr",
    "AU": "com.au",
    "ES": "es",
    "SE": "se",
}
# Personal mail uses the reserved example domains: nobody real can own these addresses.
PERSONAL_DOMAINS = _words("example.com example.net example.org")
SHARED_MAILBOXES = _words("info support office contact hello")
SERVICE_DESK_MAILBOXES = _words("support helpdesk servicedesk")

JOB_TITLES = _words(
    "Account_Manager Sales_Representative Office_Manager Operations_Director Claims_Adjuster "
    "Project_Manager IT_Support_Specialist Service_Desk_Analyst HR_Coordinator Finance_Director "
    "Chief_Executive_Officer Chief_Financial_Officer Software_Engineer Marketing_Manager "
    "Customer_Success_Manager Procurement_Officer Legal_Counsel Facilities_Coordinator "
    "Research_Analyst Nurse_Practitioner Logistics_Coordinator Quality_Assurance_Lead "
    "Data_Analyst Executive_Assistant Paralegal Store_Manager Accountant Field_Technician"
)
NOTES = (
    "Prefers email over phone.",
    "Met at the spring trade show.",
    "Call mornings only.",
    "Renewal due in Q3.",
    "Speaks at the regional user group.",
    "Handles invoices for the whole team.",
    "VIP: escalate tickets directly.",
)
