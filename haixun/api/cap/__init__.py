"""CAP 1.2 output: builder and the schema used to validate it."""

from pathlib import Path

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
XSD_PATH = Path(__file__).with_name("CAP-v1.2.xsd")
