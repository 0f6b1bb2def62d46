CREATE DATABASE injuryledger_enrollment;
CREATE DATABASE injuryledger_levy;
CREATE DATABASE injuryledger_claims;
CREATE DATABASE injuryledger_payments;
CREATE DATABASE injuryledger_gateway;
