-- Stand-in for the billing migration of the same name, written on another branch: it holds
-- the number so 012 follows 011. The merge takes that branch's file in place of this one.
SELECT 1;
