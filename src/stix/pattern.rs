//! STIX patterning language → comparisons the mapping can turn into MISP attributes.
