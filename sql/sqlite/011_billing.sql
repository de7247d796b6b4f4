-- Reserved for the billing schema (tariffs, billing state), which lands with its own branch.
SELECT 0;
