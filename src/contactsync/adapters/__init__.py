"""System adapters: the contract (``base``) and one subpackage per vendor.

A vendor subpackage holds all that contactsync knows of that system: the adapter
(``adapter``), how to talk to it (``client``: auth, budgets, bucket chooser, quota
window, error hints), its ``[systems.<name>]`` table (``settings``), and one
``VENDOR`` profile (:mod:`.profile`) listed by :mod:`.registry`, from which
``SYSTEMS`` derives. ``settings_base`` holds the settings every system shares.
"""
