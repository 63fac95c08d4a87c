//! The MISP REST client (reqwest + rustls): the endpoints of BRIEF §5 only.
